// bin/ate starts light commands without $NODE_EXTRA_CA_CERTS (node would read the whole file at
// start): a command against an https server whose CA is only in that file must still work.
// A CA made here with openssl signs the certificate of an https server on loopback that
// answers as an ate server does (/version, and the Connect calls `ate get actors` makes).
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type DescMessage, fromJson, type JsonValue, toBinary } from "@bufbuild/protobuf";
import { WhoAmIResponseSchema } from "../src/proto/gen/ateapi/admin_pb.ts";
import { ListActorsResponseSchema } from "../src/proto/gen/ateapi/control_pb.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const work = mkdtempSync(join(tmpdir(), "ate-extra-ca-"));
const file = (name: string) => join(work, name);
const { ATE_SERVER, ATE_TOKEN, ATE_HOME, NODE_EXTRA_CA_CERTS, ...baseEnv } = process.env;

/** A CA, and a certificate for 127.0.0.1 signed by it. */
function makeCertificates(): void {
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(
    "req",
    "-x509",
    ...ec,
    "-keyout",
    file("ca.key"),
    "-out",
    file("ca.pem"),
    "-days",
    "1",
    "-subj",
    "/CN=ate test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign",
  );
  openssl(
    "req",
    ...ec,
    "-keyout",
    file("server.key"),
    "-out",
    file("server.csr"),
    "-subj",
    "/CN=127.0.0.1",
  );
  writeFileSync(file("server.ext"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n");
  openssl(
    "x509",
    "-req",
    "-in",
    file("server.csr"),
    "-CA",
    file("ca.pem"),
    "-CAkey",
    file("ca.key"),
    "-CAcreateserial",
    "-out",
    file("server.pem"),
    "-days",
    "1",
    "-extfile",
    file("server.ext"),
  );
}

/** What an ate server answers to the calls these commands make. */
function serve(): Promise<{ server: Server; url: string }> {
  const server = createServer(
    { key: readFileSync(file("server.key")), cert: readFileSync(file("server.pem")) },
    (req, res) => {
      req.resume();
      // A Connect unary answer, in the format the call came in (the CLI's is binary).
      const answer = (schema: DescMessage, body: JsonValue) => {
        if (req.headers["content-type"] === "application/proto") {
          res.writeHead(200, { "content-type": "application/proto" });
          res.end(toBinary(schema, fromJson(schema, body)));
        } else {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify(body));
        }
      };
      if (req.method === "GET" && req.url === "/version") {
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify({ version: "9.9.9" }));
      }
      if (req.method === "POST" && req.url === "/ateapi.Admin/WhoAmI")
        return answer(WhoAmIResponseSchema, { token: { name: "admin", role: "ROLE_ADMIN" } });
      if (req.method === "POST" && req.url === "/ateapi.Control/ListActors")
        return answer(ListActorsResponseSchema, {
          actors: [
            {
              atespace: "default",
              actorTemplateNamespace: "default",
              actorTemplateName: "counter",
              actorId: "a1",
              status: "STATUS_SUSPENDED",
              version: "3",
            },
          ],
        });
      res.writeHead(404).end();
    },
  );
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      resolve({ server, url: `https://127.0.0.1:${port}` });
    }),
  );
}

/** bin/ate in a child process (asynchronous: the server answers from this process). */
async function ate(args: string[], env: Record<string, string>) {
  try {
    const r = await promisify(execFile)(join(root, "bin", "ate"), args, {
      env: { ...baseEnv, ATE_CONFIG: file("config.yaml"), ...env },
      encoding: "utf8",
    });
    return { status: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { status: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("bin/ate with NODE_EXTRA_CA_CERTS", () => {
  let https: { server: Server; url: string };
  before(async () => {
    makeCertificates();
    https = await serve();
    writeFileSync(file("config.yaml"), `server: ${https.url}\ntoken: ate_admin_secret\n`);
  });
  after(async () => {
    https?.server.closeAllConnections();
    await new Promise((resolve) => https?.server.close(resolve));
    rmSync(work, { recursive: true, force: true });
  });

  it("reaches an https server whose CA is only in that file (the config file's server)", async () => {
    const extra = { NODE_EXTRA_CA_CERTS: file("ca.pem") };
    const version = await ate(["version"], extra);
    assert.equal(version.status, 0, version.stderr);
    assert.equal(
      version.stdout,
      `Client Version: ${clientVersion()}\nServer Version: 9.9.9 (${https.url})\n`,
    );
    const actors = await ate(["get", "actors"], extra);
    assert.equal(actors.status, 0, actors.stderr);
    assert.match(actors.stdout, /^ATESPACE\s+TEMPLATE NS\s+TEMPLATE\s+ID\s+STATUS/);
    assert.match(
      actors.stdout,
      /\ndefault\s+default\s+counter\s+a1\s+SUSPENDED\s+<none>\s+<none>\s+3\n$/,
    );
  });

  it("does so with the server from --server or ATE_SERVER too", async () => {
    const extra = { NODE_EXTRA_CA_CERTS: file("ca.pem"), ATE_CONFIG: file("none.yaml") };
    const flag = await ate(["--server", https.url, "version"], extra);
    assert.equal(flag.status, 0, flag.stderr);
    assert.match(flag.stdout, /^Server Version: 9\.9\.9 /m);
    const after = await ate(["get", "actors", `--server=${https.url}`], extra);
    assert.equal(after.status, 0, after.stderr);
    assert.match(after.stdout, /\ba1\b/);
    const env = await ate(["version"], { ...extra, ATE_SERVER: https.url });
    assert.equal(env.status, 0, env.stderr);
    assert.match(env.stdout, /^Server Version: 9\.9\.9 /m);
  });

  it("fails without the file: the certificate is what lets it in", async () => {
    const version = await ate(["version"], {});
    assert.equal(version.status, 1);
    assert.match(version.stderr, /certificate/i);
  });
});

function clientVersion(): string {
  return (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string })
    .version;
}
