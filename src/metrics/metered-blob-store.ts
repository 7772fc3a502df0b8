import { stat } from "node:fs/promises";
import { pipeline, type Readable, Transform } from "node:stream";
import type { BlobStore } from "../blob/index.ts";
import type { NodeMetrics } from "./node-metrics.ts";

/**
 * `store` with every byte put or got counted in the node's snapshot byte counters. Bytes are
 * counted as they flow (a partial upload counts what was sent), so the counters say what the
 * network and disks carried, not what committed. Everything else passes through untouched.
 */
export function meteredBlobStore(store: BlobStore, m: NodeMetrics): BlobStore {
  const metered: Partial<BlobStore> = {
    async put(key, body, options) {
      if (Buffer.isBuffer(body)) {
        await store.put(key, body, options);
        m.snapshotWrittenBytes.inc(body.length);
        return;
      }
      await store.put(
        key,
        counted(body, (n) => m.snapshotWrittenBytes.inc(n)),
        options,
      );
    },
    async get(key, options) {
      return counted(await store.get(key, options), (n) => m.snapshotReadBytes.inc(n));
    },
  };
  const putFile = store.putFile?.bind(store);
  if (putFile)
    metered.putFile = async (key, localPath, options) => {
      await putFile(key, localPath, options);
      // A hard link carries no bytes, but the location now holds them: counted as written.
      const { size } = await stat(localPath).catch(() => ({ size: 0 }));
      m.snapshotWrittenBytes.inc(size);
    };
  return new Proxy(store, {
    get(target, prop) {
      if (typeof prop === "string" && prop in metered) return metered[prop as keyof BlobStore];
      const v = Reflect.get(target, prop);
      // Bound to the store itself: its methods may use private fields a proxy has not.
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

/** `body` through a counter; an error on either side ends both (pipeline). */
function counted(body: Readable, add: (n: number) => void): Readable {
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      add(chunk.length);
      done(null, chunk);
    },
  });
  return pipeline(body, counter, () => {});
}
