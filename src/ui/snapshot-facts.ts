import { type BlobStore, openBlobStore } from "../blob/index.ts";
import { readManifest } from "../snapshots/index.ts";

/** What the dashboard shows of a snapshot beyond its record: from its manifest. */
export interface SnapshotFacts {
  /** Epoch ms the snapshot was taken (the manifest's createdAt). */
  createdAt: number;
  /** The sum of its files' sizes. */
  bytes: number;
}

export const snapshotFactDefaults = {
  /** Manifests remembered (they never change once written, so a hit is always right). */
  entries: 5000,
  /** A manifest that could not be read is asked for again after this long. */
  retryMs: 30_000,
  /** Manifest reads under way at once, for every dashboard of this server together. */
  concurrency: 4,
  /** One read's limit. */
  timeoutMs: 5000,
};

/**
 * Snapshot age and size for the dashboard, read from each EXTERNAL snapshot's manifest in the
 * background and kept (a manifest is immutable): a view never waits on storage, it shows
 * what is known and the next view shows the rest. LOCAL snapshots (on a node) are not read.
 */
export class SnapshotFactsCache {
  private readonly known = new Map<string, SnapshotFacts | { failedAt: number }>();
  private readonly reading = new Set<string>();
  private readonly o: typeof snapshotFactDefaults;

  constructor(
    o: Partial<typeof snapshotFactDefaults> = {},
    private readonly open: (uri: string) => BlobStore = openBlobStore,
  ) {
    this.o = { ...snapshotFactDefaults, ...o };
  }

  /** The facts if known; otherwise starts reading them and calls `ready` once they are. */
  get(uri: string, ready: () => void): SnapshotFacts | undefined {
    const k = this.known.get(uri);
    if (k && "bytes" in k) return k;
    if (k && Date.now() - k.failedAt < this.o.retryMs) return undefined;
    if (this.reading.has(uri) || this.reading.size >= this.o.concurrency) return undefined;
    this.reading.add(uri);
    void this.read(uri)
      .then(
        (facts) => this.remember(uri, facts),
        () => this.remember(uri, { failedAt: Date.now() }),
      )
      .finally(() => {
        this.reading.delete(uri);
        ready();
      });
    return undefined;
  }

  private async read(uri: string): Promise<SnapshotFacts> {
    const m = await readManifest(this.open(uri), uri, AbortSignal.timeout(this.o.timeoutMs));
    const createdAt = Date.parse(m.createdAt);
    if (Number.isNaN(createdAt)) throw new Error(`snapshot ${uri}: createdAt is not a time`);
    return { createdAt, bytes: m.snapshotFiles.reduce((s, f) => s + f.size, 0) };
  }

  private remember(uri: string, v: SnapshotFacts | { failedAt: number }) {
    // Oldest first out: a Map iterates in insertion order.
    if (this.known.size >= this.o.entries)
      this.known.delete(this.known.keys().next().value as string);
    this.known.set(uri, v);
  }
}
