import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { after, describe, it } from "node:test";
import { FileBlobStore } from "../blob/index.ts";
import { RouterMetrics } from "../router/metrics.ts";
import {
  ControlPlaneMetrics,
  exposition,
  meteredBlobStore,
  NodeMetrics,
  Registry,
} from "./index.ts";

describe("metrics registries", () => {
  it("many components in one process never collide; one shared registry shows them all", async () => {
    // Tests start dozens of components per process: each has its own registry by default.
    for (let i = 0; i < 3; i++) {
      new ControlPlaneMetrics();
      new NodeMetrics();
      new RouterMetrics();
    }
    // `ate up`: the three share one registry, which every /metrics serves.
    const shared = new Registry();
    const cp = new ControlPlaneMetrics(shared);
    new NodeMetrics(shared);
    new RouterMetrics(() => 7, shared);
    await cp.transition("stop", async () => {});
    const page = await exposition([shared, shared]);
    for (const [name, type] of [
      ["ate_actor_transitions_total", "counter"],
      ["ate_actor_transition_seconds", "histogram"],
      ["ate_workers", "gauge"],
      ["ate_gc_removed_total", "counter"],
      ["ate_node_checkpoint_seconds", "histogram"],
      ["ate_node_restore_seconds", "histogram"],
      ["ate_snapshot_written_bytes_total", "counter"],
      ["ate_snapshot_read_bytes_total", "counter"],
      ["ate_asset_cache_lookups_total", "counter"],
      ["ate_router_requests_total", "counter"],
      ["ate_router_activation_seconds", "histogram"],
      ["ate_router_queue_depth", "gauge"],
    ])
      assert.match(page, new RegExp(`^# TYPE ${name} ${type}$`, "m"), name);
    assert.match(page, /^ate_router_routes 7$/m);
    assert.match(page, /^ate_actor_transitions_total\{kind="stop",result="ok"\} 1$/m);
    // Separate registries merge too: their names are distinct.
    const merged = await exposition([
      new ControlPlaneMetrics().registry,
      new NodeMetrics().registry,
      new RouterMetrics().registry,
    ]);
    assert.match(merged, /^# TYPE ate_router_queue_depth gauge$/m);
  });

  describe("a metered snapshot location", () => {
    const dir = mkdtempSync(join(tmpdir(), "ate-metered-"));
    after(() => rmSync(dir, { recursive: true, force: true }));

    it("counts bytes written (buffers, streams, files) and read, passing everything else through", async () => {
      const m = new NodeMetrics();
      const store = meteredBlobStore(new FileBlobStore(join(dir, "loc")), m);
      await store.put("a", Buffer.from("12345"));
      await store.put("b", Readable.from([Buffer.from("abc"), Buffer.from("de")]));
      const local = join(dir, "file");
      writeFileSync(local, "0123456789");
      await (store.putFile?.("c", local) ?? Promise.reject(new Error("no putFile")));
      assert.equal(await text(await store.get("b")), "abcde");
      assert.deepEqual(
        (await store.list("")).map((b) => [b.key, b.size]),
        [
          ["a", 5],
          ["b", 5],
          ["c", 10],
        ],
      );
      assert.equal(store.uri, new FileBlobStore(join(dir, "loc")).uri);
      const page = await m.registry.metrics();
      assert.match(page, /^ate_snapshot_written_bytes_total 20$/m);
      assert.match(page, /^ate_snapshot_read_bytes_total 5$/m);
      await assert.rejects(store.get("missing"));
    });
  });
});
