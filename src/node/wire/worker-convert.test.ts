// What a node answers about a worker's address: an IPv4 literal, nothing to resolve.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, isAteError } from "../../errors/index.ts";
import { NodeWorkerInfoSchema } from "../../proto/gen/ateapi/node_pb.ts";
import { workerInfoFromWire } from "./worker-convert.ts";

describe("a worker's address from the wire", () => {
  const info = (address: string) => create(NodeWorkerInfoSchema, { name: "w-1", address });

  it("is taken as an IPv4 literal", () => {
    assert.equal(workerInfoFromWire(info("169.254.64.2"), "worker").address, "169.254.64.2");
  });

  it("is refused as a name, IPv6, empty or with a port, naming the field", () => {
    for (const bad of [
      "localhost",
      "metadata.google.internal",
      "::1",
      "",
      "169.254.64.2:80",
      "1.2.3",
    ])
      assert.throws(
        () => workerInfoFromWire(info(bad), "worker"),
        (err) =>
          isAteError(err, Code.InvalidArgument) &&
          /^worker\.address: .*must be the worker's IPv4 address/.test(err.message),
        bad,
      );
  });
});
