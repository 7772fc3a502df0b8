import { AteError, Code } from "../errors/index.ts";
import { checkLabel, maxPageSize } from "./records.ts";
import type { RecordStore } from "./store.ts";
import type { Atespace, SnapshotInfo } from "./types.ts";

/** Who may start actors from a tag: its own atespace only, or any atespace. */
export type SnapshotTagPolicy = "ATESPACE" | "PUBLISHED";

/**
 * A snapshot tag (record kind `snapshottag`, key `<atespace>/<name>`): a copy of an actor's
 * committed snapshot, owned by the tag — the copy at `snapshot.uri` lives exactly as long as
 * the tag (the garbage collector keeps every snapshot a tag points at).
 */
export interface SnapshotTag {
  atespace: string;
  name: string;
  version: number;
  /** Only actors of this template start from it (its memory holds that template's workload). */
  template: { namespace: string; name: string };
  policy: SnapshotTagPolicy;
  snapshot: Pick<SnapshotInfo, "type" | "scope" | "uri">;
  sourceActor: { atespace: string; actorId: string };
  createdAt: string;
}

export const snapshotTagKey = (atespace: string, name: string) => `${atespace}/${name}`;

/** Checks a tag's address as the Control API does: two DNS-1123 labels, naming the field. */
export function checkTagRef(field: string, ref: { atespace: string; name: string }): void {
  checkLabel(`${field}.atespace`, ref.atespace);
  checkLabel(`${field}.name`, ref.name);
}

/**
 * Snapshot tag records over any RecordStore. A tag is written once (after its copy is
 * complete) and deleted once; there are no updates, so two creates of one name race on
 * "must not exist" and the loser is ALREADY_EXISTS.
 */
export class SnapshotTags {
  constructor(private readonly store: RecordStore) {}

  async get(atespace: string, name: string): Promise<SnapshotTag> {
    const t = (await this.store.get("snapshottag", snapshotTagKey(atespace, name))) as
      | SnapshotTag
      | undefined;
    if (!t) throw new AteError(Code.NotFound, `snapshottag ${atespace}/${name} not found`);
    return t;
  }

  /**
   * Writes the tag with its atespace's version bumped in the same commit, as an actor's create
   * does: a concurrent DeleteAtespace (which refuses while tags remain) then loses, so no tag
   * outlives its atespace to be found by whoever is given that name next.
   */
  async create(tag: Omit<SnapshotTag, "version">): Promise<SnapshotTag> {
    checkTagRef("tag_ref", tag);
    const key = snapshotTagKey(tag.atespace, tag.name);
    for (let attempt = 0; ; attempt++) {
      const space = (await this.store.get("atespace", tag.atespace)) as Atespace | undefined;
      if (!space)
        throw new AteError(
          Code.FailedPrecondition,
          `atespace ${tag.atespace} does not exist: create it first`,
        );
      try {
        const [version] = await this.store.commit([
          { kind: "snapshottag", key, expectVersion: 0, value: { ...tag } },
          {
            kind: "atespace",
            key: tag.atespace,
            expectVersion: space.version,
            value: { name: space.name, createdAt: space.createdAt }, // as createActor writes it
          },
        ]);
        return { ...tag, version: version as number };
      } catch (err) {
        const e = AteError.from(err);
        const onAtespace = e.message.startsWith(`atespace ${tag.atespace} `);
        if (onAtespace && e.code === Code.Aborted && attempt < 50) continue;
        if (onAtespace)
          throw new AteError(
            Code.FailedPrecondition,
            `atespace ${tag.atespace} does not exist: create it first`,
          );
        if (e.code === Code.AlreadyExists || e.code === Code.Aborted)
          throw new AteError(
            Code.AlreadyExists,
            `snapshottag ${tag.atespace}/${tag.name} already exists`,
          );
        throw e;
      }
    }
  }

  /** Every tag (of one atespace, or all), in key order. */
  async list(atespace?: string): Promise<SnapshotTag[]> {
    if (atespace) checkLabel("atespace", atespace);
    const prefix = atespace ? `${atespace}/` : "";
    const out: SnapshotTag[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.store.list("snapshottag", {
        prefix,
        limit: maxPageSize,
        ...(after !== undefined ? { after } : {}),
      });
      out.push(...(page.items as unknown as SnapshotTag[]));
      if (!page.last) return out;
      after = page.last;
    }
  }

  /** Compare-and-set on the version read: a tag deleted and made again is not deleted twice. */
  async delete(tag: SnapshotTag): Promise<void> {
    await this.store.commit([
      {
        kind: "snapshottag",
        key: snapshotTagKey(tag.atespace, tag.name),
        expectVersion: tag.version,
      },
    ]);
  }
}
