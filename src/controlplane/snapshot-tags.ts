import type { BlobStore } from "../blob/index.ts";
import type { Clock } from "../clock/index.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import type { Logger } from "../log/index.ts";
import { goldenAtespace } from "../node/index.ts";
import {
  type Actor,
  checkTagRef,
  type Records,
  type SnapshotInfo,
  type SnapshotTag,
  type SnapshotTagPolicy,
  SnapshotTags,
} from "../records/index.ts";
import type { ResourceStore } from "../resources/index.ts";
import { snapshotName } from "../snapshots/index.ts";
import { type ActorRef, checkRef } from "./input-checks.ts";
import { copySnapshot, removeSnapshot } from "./snapshot-copy.ts";
import { checkpointConfig } from "./snapshots-config.ts";
import type { ActorTokenIssuer } from "./transitions.ts";

export interface SnapshotTagDeps {
  records: Records;
  resources: ResourceStore;
  clock: Clock;
  logger: Logger;
  /** Opens a snapshot location (file, S3, GCS). */
  open: (uri: string) => BlobStore;
  /** Where an actor's snapshots go when nothing else says (see checkpointConfig). */
  fallbackLocation: string;
  /** Actors' own tokens: a tagged actor's is revoked while it is stopped (see below). */
  actorTokens?: Pick<ActorTokenIssuer, "revokeWhileStopped">;
  /** Copies (tags and forks) one atespace may have under way at once here. Default 2. */
  copiesPerAtespace?: number;
  /**
   * Tags one atespace may hold (each owns a whole snapshot's copy: without a bound a tenant
   * fills the snapshot store). Default 100.
   */
  tagsPerAtespace?: number;
  /**
   * Runs a copy as an operation the control plane's shutdown stops and waits for (aborted
   * like a resume: a copy cut short has no manifest, so nothing restores from it, and nothing
   * owns it: the collector sweeps it). Default: run it as it is.
   */
  track?: <T>(
    signal: AbortSignal | undefined,
    run: (signal: AbortSignal | undefined) => Promise<T>,
  ) => Promise<T>;
}

export const defaultCopiesPerAtespace = 2;
export const defaultTagsPerAtespace = 100;

export type TagRef = { atespace: string; name: string };

const trim = (location: string) => location.replace(/\/+$/, "");

/**
 * Snapshot tags and forks. A tag copies an actor's latest committed external snapshot under
 * `<location>/_tags/<atespace>/<name>/<id>` and owns that copy; a fork (CreateActor with a
 * source tag) copies the tag's snapshot again, into the new actor's own snapshots, its
 * manifest naming the new actor — so the node's rule "an actor restores only its own
 * snapshots" holds, /run/ate/actor-id says the new actor, and each copy has exactly one
 * owner for the garbage collector. Copies are complete (manifest last) before the record that
 * owns them is written; a crash between leaves only an unowned copy, swept later.
 */
export class SnapshotTagService {
  private readonly tags: SnapshotTags;
  /** Copies under way per atespace (see copying). */
  private readonly copies = new Map<string, number>();
  /** Tags being made per atespace: counted with those stored against tagsPerAtespace. */
  private readonly making = new Map<string, number>();

  constructor(private readonly d: SnapshotTagDeps) {
    this.tags = new SnapshotTags(d.records.store);
  }

  async create(
    ref: TagRef | undefined,
    actorRef: ActorRef | undefined,
    policy: SnapshotTagPolicy,
    signal?: AbortSignal,
  ): Promise<SnapshotTag> {
    if (!ref) throw new AteError(Code.InvalidArgument, "tag_ref: Required value");
    checkTagRef("tag_ref", ref);
    checkRef(actorRef);
    if (ref.atespace === goldenAtespace)
      throw new AteError(
        Code.PermissionDenied,
        `tag_ref.atespace: atespace ${goldenAtespace} is reserved for golden snapshots; tag in another atespace`,
      );
    if (actorRef.atespace !== ref.atespace)
      throw new AteError(
        Code.InvalidArgument,
        `actor_ref.atespace: Invalid value: ${JSON.stringify(actorRef.atespace)}: a tag copies an actor of its own atespace (${ref.atespace})`,
      );
    if (await this.find(ref))
      throw new AteError(
        Code.AlreadyExists,
        `snapshottag ${ref.atespace}/${ref.name} already exists`,
      );
    // Counted before the look (concurrent creates each see the others), freed after.
    this.making.set(ref.atespace, (this.making.get(ref.atespace) ?? 0) + 1);
    try {
      await this.checkRoom(ref.atespace);
      const actor = await this.d.records.getActor(actorRef.atespace, actorRef.name);
      return await this.make(ref, actor, committedExternal(actor), policy, signal);
    } finally {
      const left = (this.making.get(ref.atespace) ?? 1) - 1;
      if (left > 0) this.making.set(ref.atespace, left);
      else this.making.delete(ref.atespace);
    }
  }

  /**
   * RESOURCE_EXHAUSTED when the atespace already holds, or is making besides this one,
   * tagsPerAtespace tags (per control-plane replica for those being made).
   */
  private async checkRoom(atespace: string): Promise<void> {
    const limit = this.d.tagsPerAtespace ?? defaultTagsPerAtespace;
    const others = (this.making.get(atespace) ?? 1) - 1;
    const held = (await this.tags.list(atespace)).length + others;
    if (held >= limit)
      throw new AteError(
        Code.ResourceExhausted,
        `atespace ${atespace} has ${held} snapshot tags, the most it may hold (${limit}): delete one first (ate delete snapshottag NAME -a ${atespace})`,
      );
  }

  /** The copy, then the tag that owns it (the copy removed again if the tag is not written). */
  private async make(
    ref: TagRef,
    actor: Actor,
    snapshot: SnapshotInfo,
    policy: SnapshotTagPolicy,
    signal: AbortSignal | undefined,
  ): Promise<SnapshotTag> {
    await this.revokeSourceToken(actor);
    const { location } = await checkpointConfig(
      actor,
      this.d.resources,
      this.d.fallbackLocation,
      this.d.logger,
    );
    const uri = `${trim(location)}/_tags/${ref.atespace}/${ref.name}/${snapshotName()}`;
    await this.copying(ref.atespace, signal, (s) =>
      copySnapshot(this.d.open, snapshot.uri, uri, s ? { signal: s } : {}),
    );
    try {
      return await this.tags.create({
        atespace: ref.atespace,
        name: ref.name,
        template: { namespace: actor.templateNamespace, name: actor.templateName },
        policy,
        snapshot: { type: "EXTERNAL", scope: snapshot.scope, uri },
        sourceActor: { atespace: actor.atespace, actorId: actor.actorId },
        createdAt: this.d.clock.now().toISOString(),
      });
    } catch (err) {
      await removeSnapshot(this.d.open, uri).catch(() => {}); // else the GC sweeps it
      throw err;
    }
  }

  async get(ref: TagRef | undefined): Promise<SnapshotTag> {
    if (!ref) throw new AteError(Code.InvalidArgument, "tag_ref: Required value");
    checkTagRef("tag_ref", ref);
    return this.tags.get(ref.atespace, ref.name);
  }

  list(atespace: string): Promise<SnapshotTag[]> {
    return this.tags.list(atespace || undefined);
  }

  /** The record first (nothing starts from the tag after), then its copy. */
  async delete(ref: TagRef | undefined): Promise<void> {
    const tag = await this.get(ref);
    await this.tags.delete(tag);
    await removeSnapshot(this.d.open, tag.snapshot.uri).catch((err) =>
      // The copy is unowned now: the garbage collector's sweep removes it.
      this.d.logger.warn("snapshot tag deleted; its copy is left for the garbage collector", {
        tag: `${tag.atespace}/${tag.name}`,
        uri: tag.snapshot.uri,
        error: (err as Error).message,
      }),
    );
  }

  /**
   * For CreateActor with a source tag: checks the tag is visible from the actor's atespace and
   * of its template, and copies its snapshot into the actor's own snapshots under `location`
   * (the template's), naming the actor. The caller records the actor, or removes the copy.
   */
  private async fork(
    source: TagRef,
    actor: Pick<Actor, "atespace" | "actorId" | "templateNamespace" | "templateName">,
    location: string,
    signal?: AbortSignal,
  ): Promise<SnapshotInfo> {
    checkTagRef("source_tag", source);
    const name = `snapshottag ${source.atespace}/${source.name}`;
    // Another atespace's tag that is missing and one that is not published get one answer,
    // word for word: else any tenant could probe which tag names other atespaces hold.
    const unseen = () =>
      new AteError(
        Code.NotFound,
        `source_tag: ${name} not found, or not published: an actor of atespace ${actor.atespace} starts only from its own atespace's tags and published ones`,
      );
    const other = source.atespace !== actor.atespace;
    const tag = await this.tags.get(source.atespace, source.name).catch((err) => {
      throw other && isAteError(err, Code.NotFound) ? unseen() : err;
    });
    if (tag.policy !== "PUBLISHED" && other) throw unseen();
    // Again, for a tag made while its actor was mid-start (or before tags revoked at all).
    await this.revokeSourceToken(tag.sourceActor);
    if (
      tag.template.namespace !== actor.templateNamespace ||
      tag.template.name !== actor.templateName
    )
      throw new AteError(
        Code.FailedPrecondition,
        `source_tag: ${name} is a snapshot of template ${tag.template.namespace}/${tag.template.name}, not ${actor.templateNamespace}/${actor.templateName}: an actor starts only from a snapshot of its own template`,
      );
    const uri = `${trim(location)}/${actor.atespace}/${actor.actorId}/${snapshotName()}`;
    await this.copying(actor.atespace, signal, (s) =>
      copySnapshot(this.d.open, tag.snapshot.uri, uri, {
        identity: {
          atespace: actor.atespace,
          actorId: actor.actorId,
          templateNamespace: actor.templateNamespace,
          templateName: actor.templateName,
        },
        ...(s ? { signal: s } : {}),
      }),
    );
    return { type: "EXTERNAL", scope: tag.snapshot.scope, uri };
  }

  /**
   * CreateActor from a tag: the tag's snapshot copied into the actor's own, then the actor
   * recorded with it as its latest (and owned) snapshot, so its first resume restores it.
   */
  async createFork(
    actor: Omit<Actor, "version">,
    source: TagRef,
    location: string,
    signal?: AbortSignal,
  ): Promise<Actor> {
    // Refused before copying anything: the copy would be for nothing.
    const existing = await this.d.records.getActor(actor.atespace, actor.actorId).catch((err) => {
      if (isAteError(err, Code.NotFound)) return undefined;
      throw err;
    });
    if (existing)
      throw new AteError(
        Code.AlreadyExists,
        `actor ${actor.atespace}/${actor.actorId} already exists`,
      );
    const snapshot = await this.fork(source, actor, location, signal);
    try {
      return await this.d.records.createActor({
        ...actor,
        latestSnapshot: snapshot,
        snapshots: [snapshot.uri],
      });
    } catch (err) {
      await removeSnapshot(this.d.open, snapshot.uri).catch(() => {}); // else the GC sweeps it
      throw err;
    }
  }

  /**
   * A tag's memory runs again as other actors (forks, in other atespaces when published): the
   * token of the actor it was taken from, which that memory may hold (/run/ate/token, read by
   * its workload), must not work for them. It is still live only while that actor has not
   * started since (every start issues a new one), so it is revoked while the actor is stopped;
   * a running one's was issued at a start after its snapshots, which never held it. Golden
   * snapshots, whose memory every actor gets, carry no token at all for the same reason.
   */
  private async revokeSourceToken(a: { atespace: string; actorId: string }): Promise<void> {
    if (!this.d.actorTokens) return;
    const stopped = async () => {
      const now = await this.d.records.getActor(a.atespace, a.actorId).catch(() => undefined);
      return now?.status === "SUSPENDED" || now?.status === "PAUSED";
    };
    if (await this.d.actorTokens.revokeWhileStopped(a.atespace, a.actorId, stopped))
      this.d.logger.info("revoked a tagged actor's token: its snapshot's memory runs as others", {
        actor: `${a.atespace}/${a.actorId}`,
      });
  }

  /**
   * Runs one copy for `atespace`, if it has fewer than copiesPerAtespace under way: each
   * streams a whole snapshot (gigabytes) through this process and needs no worker, so a
   * tenant's burst of tags or forks would otherwise take all of its bandwidth and disk from
   * everyone. Refused RESOURCE_EXHAUSTED before anything is read.
   */
  private async copying<T>(
    atespace: string,
    signal: AbortSignal | undefined,
    copy: (signal: AbortSignal | undefined) => Promise<T>,
  ): Promise<T> {
    const limit = this.d.copiesPerAtespace ?? defaultCopiesPerAtespace;
    const now = this.copies.get(atespace) ?? 0;
    if (now >= limit)
      throw new AteError(
        Code.ResourceExhausted,
        `atespace ${atespace} has ${now} snapshot copies (tags or forks) under way, the most it may at once: retry when one is done`,
      );
    this.copies.set(atespace, now + 1);
    try {
      return await (this.d.track ? this.d.track(signal, copy) : copy(signal));
    } finally {
      const left = (this.copies.get(atespace) ?? 1) - 1;
      if (left > 0) this.copies.set(atespace, left);
      else this.copies.delete(atespace);
    }
  }

  private find(ref: TagRef): Promise<SnapshotTag | undefined> {
    return this.tags.get(ref.atespace, ref.name).catch((err) => {
      if (AteError.from(err).code === Code.NotFound) return undefined;
      throw err;
    });
  }
}

/** The actor's latest committed external snapshot: what a tag copies. */
function committedExternal(actor: Actor): SnapshotInfo {
  const s =
    actor.latestSnapshot?.type === "EXTERNAL" ? actor.latestSnapshot : actor.lastExternalSnapshot;
  if (!s)
    throw new AteError(
      Code.FailedPrecondition,
      `actor ${actor.atespace}/${actor.actorId} has no committed external snapshot: suspend it first`,
    );
  return s;
}
