import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fromBinary, toBinary, toJson } from "@bufbuild/protobuf";
import { ActorSchema, WorkerSchema } from "../proto/gen/ateapi/control_pb.ts";
import type { Actor, Worker } from "../records/index.ts";
import { actorToWire, workerToWire } from "./wire.ts";

const worker: Worker = {
  namespace: "default",
  pool: "small",
  name: "small-abc123",
  uid: "u1",
  node: "n1",
  address: "169.254.64.2",
  version: 3,
  settings: { limits: { memoryBytes: 128 * 1024 ** 2, cpuMillis: 500 }, egress: "none" },
};

const actor: Actor = {
  atespace: "t",
  actorId: "hog",
  version: 7,
  templateNamespace: "default",
  templateName: "hog",
  status: "RUNNING",
  worker: {
    namespace: "default",
    name: "small-abc123",
    pool: "small",
    node: "n1",
    address: "169.254.64.2",
    uid: "u1",
  },
  lastExit: {
    reason: "OOMKilled",
    message: "the sandbox went past its memory limit of 128Mi",
    at: "2026-11-30T13:00:00Z",
    exitCode: 137,
  },
  createdAt: "2026-11-30T12:00:00Z",
};

/** Field numbers present in an encoded message's top level. */
function topLevelFields(bytes: Uint8Array): number[] {
  const fields: number[] = [];
  let i = 0;
  const varint = () => {
    let v = 0;
    let shift = 1;
    for (;;) {
      const b = bytes[i++] ?? 0;
      v += (b & 0x7f) * shift;
      shift *= 128;
      if (b < 0x80) return v;
    }
  };
  while (i < bytes.length) {
    const key = varint();
    fields.push(Math.floor(key / 8));
    const type = key & 7;
    if (type === 0) varint();
    else if (type === 2) {
      const length = varint(); // read before i is: `i += varint()` would add to the old i
      i += length;
    } else throw new Error(`unexpected wire type ${type}`);
  }
  return fields;
}

describe("wire mapping of limits and exits", () => {
  it("puts an actor's last exit (16) and its worker's limits (17) on the Actor message", () => {
    const msg = actorToWire(actor, worker);
    const back = fromBinary(ActorSchema, toBinary(ActorSchema, msg));
    assert.equal(back.lastExit?.reason, "OOMKilled");
    assert.equal(back.lastExit?.message, "the sandbox went past its memory limit of 128Mi");
    assert.equal(back.lastExit?.time, "2026-11-30T13:00:00Z");
    assert.equal(back.lastExit?.exitCode, 137);
    assert.equal(back.workerLimits?.memoryBytes, 134217728n);
    assert.equal(back.workerLimits?.cpuMillicores, 500n);
    const fields = topLevelFields(toBinary(ActorSchema, msg));
    assert.ok(fields.includes(16) && fields.includes(17), String(fields));
    assert.deepEqual((toJson(ActorSchema, msg) as { lastExit?: unknown }).lastExit, {
      reason: "OOMKilled",
      message: "the sandbox went past its memory limit of 128Mi",
      time: "2026-11-30T13:00:00Z",
      exitCode: 137,
    });
  });

  it("leaves the new fields out when there is nothing to say, so older clients see the same bytes", () => {
    const { lastExit: _e, ...plain } = actor;
    const free: Worker = { ...worker };
    delete free.settings;
    for (const msg of [actorToWire(plain), actorToWire(plain, free)]) {
      const fields = topLevelFields(toBinary(ActorSchema, msg));
      assert.ok(
        fields.every((f) => f <= 15),
        String(fields),
      );
    }
    // Another worker's record (the actor moved meanwhile) lends it no limits.
    assert.equal(actorToWire(actor, { ...worker, name: "other" }).workerLimits, undefined);
    const suspended = { ...actor, status: "SUSPENDED" as const };
    delete suspended.worker;
    assert.equal(actorToWire(suspended, worker).workerLimits, undefined);
  });

  it("puts a worker's limits (12) and egress (13) on the Worker message", () => {
    const back = fromBinary(WorkerSchema, toBinary(WorkerSchema, workerToWire(worker)));
    assert.equal(back.limits?.memoryBytes, 134217728n);
    assert.equal(back.limits?.cpuMillicores, 500n);
    assert.equal(back.egress, "none");
    const memoryOnly = workerToWire({ ...worker, settings: { limits: { memoryBytes: 1 << 30 } } });
    assert.equal(memoryOnly.limits?.memoryBytes, 1073741824n);
    assert.equal(memoryOnly.limits?.cpuMillicores, 0n, "0: no CPU limit");
    assert.equal(memoryOnly.egress, "default");
    const plain: Worker = { ...worker };
    delete plain.settings;
    assert.equal(workerToWire(plain).limits, undefined);
    assert.equal(workerToWire(plain).egress, "default");
  });
});
