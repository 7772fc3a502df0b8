// Snapshot tags: copies of an actor's latest committed snapshot, owned by an atespace, from
// which new actors of the same template start (`actors.create(name, { fromTag })`).
import type { SnapshotTag } from "../proto/gen/ateapi/control_pb.ts";
import type { CallOptions, InAtespace } from "./actors.ts";
import type { ControlClient } from "./control.ts";
import type { Endpoints } from "./options.ts";

export interface CreateSnapshotTagOptions extends InAtespace {
  /** The actor (of the tag's atespace) whose latest committed snapshot the tag copies. */
  actor: string;
  /** Actors of any atespace may start from it (default: the tag's own atespace only). */
  published?: boolean;
}

export interface ListSnapshotTagsOptions extends CallOptions {
  /** Default the client's; "" for every atespace the token may see. */
  atespace?: string;
}

export class SnapshotTags {
  constructor(
    private readonly control: () => Promise<ControlClient>,
    private readonly ep: Endpoints,
  ) {}

  private ref(name: string, o: InAtespace) {
    return { tagRef: { atespace: o.atespace ?? this.ep.atespace, name } };
  }

  async create(name: string, o: CreateSnapshotTagOptions): Promise<SnapshotTag> {
    const r = this.ref(name, o);
    const { snapshotTag } = await (await this.control()).createSnapshotTag(
      {
        ...r,
        actorRef: { atespace: r.tagRef.atespace, name: o.actor },
        // SnapshotTag.Policy: 1 ATESPACE, 2 PUBLISHED (numbers, so no descriptor loads here).
        policy: o.published ? 2 : 1,
      },
      { signal: o.signal },
    );
    return must(snapshotTag);
  }

  async get(name: string, o: InAtespace = {}): Promise<SnapshotTag> {
    const { snapshotTag } = await (await this.control()).getSnapshotTag(this.ref(name, o), {
      signal: o.signal,
    });
    return must(snapshotTag);
  }

  async list(o: ListSnapshotTagsOptions = {}): Promise<SnapshotTag[]> {
    const atespace = o.atespace ?? this.ep.atespace;
    return (await (await this.control()).listSnapshotTags({ atespace }, { signal: o.signal }))
      .snapshotTags;
  }

  /** The tag, then its copy of the snapshot (actors started from it keep their own copies). */
  async delete(name: string, o: InAtespace = {}): Promise<void> {
    await (await this.control()).deleteSnapshotTag(this.ref(name, o), { signal: o.signal });
  }
}

function must(t: SnapshotTag | undefined): SnapshotTag {
  if (!t) throw new Error("the server answered without a snapshot tag");
  return t;
}
