// The SDK's TLS options against an https server on loopback whose certificate a CA made here
// with openssl signs: trusted through `ca`, refused without it, accepted with
// rejectUnauthorized: false. The server answers as an ate API and router would.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fromJson, toBinary } from "@bufbuild/protobuf";
import { makeTestCertificates } from "../../test/support/test-certificates.ts";
import { ListActorsResponseSchema } from "../proto/gen/ateapi/control_pb.ts";
import { AteError, connect } from "./index.ts";

const work = mkdtempSync(join(tmpdir(), "ate-sdk-tls-"));
const file = (name: string) => join(work, name);

describe("the SDK over TLS", () => {
  let server: Server;
  let url = "";
  before(async () => {
    makeTestCertificates(work);
    server = createServer(
      { key: readFileSync(file("server.key")), cert: readFileSync(file("server.pem")) },
      (req, res) => {
        req.resume();
        if (req.url === "/ateapi.Control/ListActors") {
          res.writeHead(200, { "content-type": "application/proto" });
          const body = fromJson(ListActorsResponseSchema, { actors: [{ actorId: "a1" }] });
          return res.end(toBinary(ListActorsResponseSchema, body));
        }
        if (req.url === "/ate/v1/atespaces/default/actors/a1/logs") return res.end("logged\n");
        if (req.url === "/actors/default/a1/hi") return res.end("routed");
        res.writeHead(404).end();
      },
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(work, { recursive: true, force: true });
  });

  const roundTrip = async (o: { ca?: Buffer; rejectUnauthorized?: boolean }) => {
    const ate = connect({ server: url, router: url, token: "t", ...o });
    const listed = (await ate.actors.list()).map((a) => a.actorId);
    const routed = await (await ate.actor("a1").fetch("/hi")).text();
    let logged = "";
    for await (const text of ate.actor("a1").logs()) logged += text;
    return [listed, routed, logged];
  };

  it("trusts a CA given as `ca`, besides Node's own", async () => {
    assert.deepEqual(await roundTrip({ ca: readFileSync(file("ca.pem")) }), [
      ["a1"],
      "routed",
      "logged\n",
    ]);
  });

  it("refuses the server's certificate without it, unless told not to check", async () => {
    await assert.rejects(connect({ server: url, token: "t" }).actors.list(), (err) => {
      assert.ok(err instanceof AteError);
      assert.match(err.message, /certificate/);
      return true;
    });
    assert.deepEqual(await roundTrip({ rejectUnauthorized: false }), [
      ["a1"],
      "routed",
      "logged\n",
    ]);
  });
});
