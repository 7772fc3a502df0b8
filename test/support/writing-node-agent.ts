// A no-op node agent whose suspends write a real (small) snapshot where the control plane sends
// them: for tests and benchmarks of snapshot ownership and GC without sandboxes.
import { openBlobStore } from "../../src/blob/index.ts";
import type { CheckpointRequest, CheckpointResult } from "../../src/node/index.ts";
import { NoopNodeAgent } from "./noop-node-agent.ts";

/** Writes a snapshot's file, then its manifest, as a node does. */
export async function writeFakeSnapshot(uri: string, bytes = 1000): Promise<void> {
  const store = openBlobStore(uri);
  await store.put("checkpoint.img", Buffer.alloc(bytes, 1));
  await store.put("manifest.json", Buffer.from("{}"));
}

export class WritingNodeAgent extends NoopNodeAgent {
  constructor(private readonly snapshotBytes = 1000) {
    super();
  }
  override async checkpoint(req: CheckpointRequest): Promise<CheckpointResult> {
    const r = await super.checkpoint(req);
    if (!r.local) await writeFakeSnapshot(r.uri, this.snapshotBytes);
    return r;
  }
}
