// The sandbox demo end to end on real gVisor, as its README runs it: the image built with
// `ate image build-node --with …`, its manifests applied with `ate apply`, and the actors
// driven through the TypeScript SDK (actor.fetch through the router). Commands run in the
// actor with their output, exit code, time limit and output cap; a bad body is refused
// naming the field; files a command wrote are there after a suspend and a resume on the
// other worker, and another actor never sees them.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { RunResult } from "../../demos/sandbox/server.ts";
import { Actor_Status, type ActorHandle } from "../../src/sdk/index.ts";
import { type DemoBed, startDemoBed } from "../support/demo-bed.ts";

const demo = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "demos", "sandbox");

/** POST /run through the router; the status and the answer's JSON. */
async function post(actor: ActorHandle, body: unknown): Promise<{ status: number; json: unknown }> {
  const res = await actor.fetch("/run", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(120_000),
  });
  const text = await res.text();
  try {
    return { status: res.status, json: JSON.parse(text) };
  } catch {
    throw new Error(`${res.status} from the router, not JSON: ${text.slice(0, 500)}`);
  }
}

/** Runs a command that must succeed; its stdout. */
async function sh(actor: ActorHandle, command: string): Promise<string> {
  const { status, json } = await post(actor, { command });
  const r = json as RunResult;
  assert.equal(status, 200, JSON.stringify(json));
  assert.equal(r.exitCode, 0, `${command}: ${r.stderr}`);
  return r.stdout;
}

describe("the sandbox demo", { timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-sandbox-demo-"));
  let bed: DemoBed;

  before(async () => {
    bed = await startDemoBed(dir);
  });
  after(async () => {
    await bed?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs commands in the actor; their files follow it onto another worker", async () => {
    const programs = readFileSync(join(demo, "programs"), "utf8").trim().split(/\s+/);
    const image = (
      await bed.cli(
        "image",
        "build-node",
        join(demo, "server.ts"),
        `${bed.registry.host}/demo/sandbox:v1`,
        "--with",
        ...programs,
      )
    ).trim();
    assert.match(image, /\/demo\/sandbox@sha256:[a-f0-9]{64}$/);
    assert.equal(
      await bed.apply(join(demo, "workerpool.yaml")),
      "workerpool.ate.dev/sandbox-pool created\n",
    );
    assert.equal(
      await bed.apply(join(demo, "actortemplate.yaml"), image),
      "actortemplate.ate.dev/sandbox created\n",
    );
    await bed.ready(["sandbox"], 2);

    const ate = bed.client;
    const alice = ate.actor("alice");
    const bob = ate.actor("bob");
    const carol = ate.actor("carol");
    for (const a of [alice, bob, carol])
      assert.equal(
        (await a.create({ template: "default/sandbox" })).status,
        Actor_Status.SUSPENDED,
      );
    const workerOf = async (a: ActorHandle) => (await a.get()).ateomPodName;

    // The first request resumes alice; the command runs in her work directory, on the durableDir.
    await sh(
      alice,
      "mkdir -p notes && echo 'hello from alice' > notes/a.txt && echo scratch > /tmp/t",
    );
    const result = (await post(alice, { command: "cat notes/a.txt; pwd; echo oops >&2; exit 3" }))
      .json as RunResult;
    assert.deepEqual(
      { ...result, durationMs: 0 },
      {
        exitCode: 3,
        signal: null,
        stdout: "hello from alice\n/data/work\n",
        stderr: "oops\n",
        timedOut: false,
        truncated: false,
        durationMs: 0,
        actor: "alice",
      },
    );

    // Bounded: a time limit (with what the command started), an output cap.
    const slow = (await post(alice, { command: "sleep 30 & sleep 30", timeoutMs: 300 }))
      .json as RunResult;
    assert.equal(slow.timedOut, true);
    assert.equal(slow.signal, "SIGKILL");
    assert.ok(slow.durationMs < 10_000, `killed at the limit, not after (${slow.durationMs} ms)`);
    // The kill took the whole process group, the background sleep too, and PID 1 (a shell)
    // reaped them: no process, not even a zombie, is left (reaping is asynchronous: polled).
    let left = "";
    for (let i = 0; i < 50; i++) {
      left = await sh(alice, "cat /proc/[0-9]*/comm");
      if (!/^sleep$/m.test(left)) break;
    }
    assert.doesNotMatch(left, /^sleep$/m);

    // Hostile bodies: refused naming the field, and nothing run.
    const refusals: [unknown, number, RegExp][] = [
      [{ command: "ls", shell: "/bin/bash" }, 400, /^shell: unknown field/],
      [{ command: "" }, 400, /^command: must be a non-empty string/],
      [{ command: "ls", timeoutMs: 3_600_000 }, 400, /^timeoutMs: must be an integer from 1/],
      [{ command: "ls\0rm -rf ." }, 400, /^command: must not contain NUL/],
      ["[1,2]", 400, /^body: must be a JSON object/],
      ["{", 400, /^body: not JSON/],
      [{ command: "x".repeat(70_000) }, 413, /^body: larger than 65536 bytes/],
    ];
    for (const [body, status, message] of refusals) {
      const r = await post(alice, body);
      assert.equal(r.status, status, JSON.stringify(r.json));
      assert.match((r.json as { error: string }).error, message);
    }
    assert.equal(await sh(alice, "ls notes"), "a.txt\n");

    // bob, on the other worker, has a work directory of his own.
    assert.equal(await sh(bob, "ls -A"), "");
    const aliceBefore = await workerOf(alice);
    assert.notEqual(await workerOf(bob), aliceBefore);

    // alice suspended: her worker goes to carol; bob suspended: alice comes back on his.
    assert.equal((await alice.suspend()).status, Actor_Status.SUSPENDED);
    await sh(carol, "true");
    assert.equal(await workerOf(carol), aliceBefore);
    await bob.suspend();
    assert.equal(await sh(alice, "cat notes/a.txt /tmp/t"), "hello from alice\nscratch\n");
    const aliceAfter = await workerOf(alice);
    assert.notEqual(aliceAfter, aliceBefore, "alice moved to the other worker");
    assert.equal((await alice.get()).status, Actor_Status.RUNNING);
    assert.equal(await sh(carol, "ls -A"), "", "carol never sees alice's files");

    // The output cap, once alice is done moving: with this runsc, a suspend after a large
    // answer can break the actor's next restore (the todo test below).
    const loud = (await post(alice, { command: "yes" })).json as RunResult;
    assert.equal(loud.truncated, true);
    assert.equal(loud.stdout.length, 1024 * 1024);
  });

  // gVisor runsc 0.0~20240729 (Debian's): after a command answered a large output, the next
  // checkpoint can save a closed socket's epoll entry; every restore of that snapshot then
  // reports a hang-up for that file descriptor number, and the connection that gets it is
  // closed before its answer (the router's 502 "did not answer"). gVisor has since changed
  // how epoll state is saved (its ready list rebuilt at restore, 2026): with such a runsc as
  // the pool's runtime this is expected to pass, and then stops being a todo.
  it("answers after a large output, a suspend and a resume, every time", {
    todo: "runsc 0.0~20240729 can save a stale epoll entry into the snapshot",
  }, async () => {
    // alice and carol hold both workers: they make room.
    for (const name of ["alice", "carol"]) await bed.client.actor(name).suspend();
    const dave = bed.client.actor("dave");
    await dave.create({ template: "default/sandbox" });
    for (let i = 0; i < 3; i++) {
      assert.equal(((await post(dave, { command: "yes" })).json as RunResult).truncated, true);
      await dave.suspend();
      assert.equal(await sh(dave, "echo back"), "back\n", `restore ${i + 1}`);
    }
  });
});
