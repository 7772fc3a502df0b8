// The fspersist demo end to end on real gVisor, as its README runs it: one image, two
// templates on one pool (fspersist: Data scope; fsfull: Full), applied with `ate apply`, the
// actors driven through the TypeScript SDK. After a suspend and a resume, the Data-scope
// actor has its durableDir (its history) but not its memory; the Full one has both.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Actor_Status, type ActorHandle } from "../../src/sdk/index.ts";
import { type DemoBed, startDemoBed } from "../support/demo-bed.ts";

const demo = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "demos", "fspersist");

interface Answer {
  actor: string;
  template: string;
  memory: number;
  bootId: string;
  history: string[];
}

async function hit(actor: ActorHandle): Promise<Answer> {
  const res = await actor.fetch("/", { signal: AbortSignal.timeout(120_000) });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as Answer;
}

describe("the fspersist demo", { timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ate-fspersist-demo-"));
  let bed: DemoBed;

  before(async () => {
    bed = await startDemoBed(dir);
  });
  after(async () => {
    await bed?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a Data-scope actor comes back with its durableDir but not its memory; a Full one with both", async () => {
    const image = (
      await bed.cli(
        "image",
        "build-node",
        join(demo, "server.ts"),
        `${bed.registry.host}/demo/fspersist:v1`,
      )
    ).trim();
    assert.match(image, /\/demo\/fspersist@sha256:[a-f0-9]{64}$/);
    assert.equal(
      await bed.apply(join(demo, "workerpool.yaml")),
      "workerpool.ate.dev/fspersist-pool created\n",
    );
    assert.equal(
      await bed.apply(join(demo, "templates.yaml"), image),
      "actortemplate.ate.dev/fspersist created\nactortemplate.ate.dev/fsfull created\n",
    );
    await bed.ready(["fspersist", "fsfull"], 2);

    const ate = bed.client;
    const data = ate.actor("notes");
    const full = ate.actor("ledger");
    await data.create({ template: "default/fspersist" });
    await full.create({ template: "default/fsfull" });
    let d: Answer | undefined;
    let f: Answer | undefined;
    for (let i = 0; i < 3; i++) {
      d = await hit(data);
      f = await hit(full);
    }
    assert.deepEqual([d?.memory, d?.history.length, d?.actor], [3, 3, "notes"]);
    assert.deepEqual([f?.memory, f?.history.length, f?.actor], [3, 3, "ledger"]);
    // Two templates, one pool: both actors run on its workers.
    const workers = await bed.ate.controlPlane.listWorkers();
    assert.deepEqual(
      workers.filter((w) => w.actor).map((w) => w.pool),
      ["fspersist-pool", "fspersist-pool"],
    );

    for (const a of [data, full]) assert.equal((await a.suspend()).status, Actor_Status.SUSPENDED);
    const d2 = await hit(data);
    const f2 = await hit(full);
    // Data: the history (durableDir) carried on; memory is the golden's, a fresh start's.
    assert.equal(d2.memory, 1, "the Data-scope actor's memory started afresh");
    assert.deepEqual(d2.history.slice(0, 3), d?.history);
    assert.match(d2.history[3] ?? "", /^4 fspersist memory=1 at /);
    // Full: memory and files both carried on, in the same process.
    assert.equal(f2.memory, 4);
    assert.equal(f2.bootId, f?.bootId);
    assert.deepEqual(f2.history.slice(0, 3), f?.history);
    assert.match(f2.history[3] ?? "", /^4 fsfull memory=4 at /);

    // The durable data is the actor's own: another actor of the template starts empty.
    const other = ate.actor("other");
    await other.create({ template: "default/fspersist" });
    await data.suspend();
    const o = await hit(other);
    assert.deepEqual([o.memory, o.history.length], [1, 1]);
    assert.equal(o.bootId, d2.bootId, "both start from the template's golden memory");
  });
});
