import { isDNS1123Label } from "../api/names/index.ts";
import { type Clock, systemClock } from "../clock/index.ts";
import { AteError, Code, isAteError } from "../errors/index.ts";
import { actorKey, type RecordStore } from "../records/index.ts";
import type { Principal } from "./principal.ts";
import { hashSecret, newSecret, secretMatches } from "./token-text.ts";

/**
 * An actor's own credential, `ateact_<atespace>_<actor>_<64 hex>`: ate issues one each time
 * the actor starts (a cold boot or a restore) and the node writes it to /run/ate/token in the
 * sandbox. Names never hold `_`, so it never reads as an admin-made `ate_<name>_<hex>`.
 */
const actorTokenText =
  /^ateact_([a-z0-9][-a-z0-9]{0,62})_([a-z0-9][-a-z0-9]{0,62})_([0-9a-f]{64})$/;

/** Longer than any actor token: a header this long is refused before any work. */
export const maxActorTokenLength = 7 + 63 + 1 + 63 + 1 + 64;

/** The stored record (kind `actortoken`, keyed like the actor): the secret's sha256 only. */
interface ActorTokenRecord {
  atespace: string;
  actorId: string;
  sha256: string;
  /** RFC 3339: when this token was issued (the actor's latest start). */
  issuedAt: string;
  /**
   * When the actor it was issued to was created: an actor deleted and created again under the
   * same name is another actor, and the old one's token is not its.
   */
  actorCreatedAt: string;
  version: number;
}

/** The actor a token is issued to (its record's fields that matter here). */
export interface ActorTokenSubject {
  atespace: string;
  actorId: string;
  createdAt: string;
}

export function parseActorToken(
  text: string,
): { atespace: string; actorId: string; secret: string } | undefined {
  if (text.length > maxActorTokenLength) return undefined;
  const m = actorTokenText.exec(text);
  if (!m) return undefined;
  const [, atespace = "", actorId = "", secret = ""] = m;
  if (isDNS1123Label(atespace).length || isDNS1123Label(actorId).length) return undefined;
  return { atespace, actorId, secret };
}

const notValid = () =>
  new AteError(
    Code.Unauthenticated,
    "the actor token is not valid (unknown, or replaced when the actor started again): read /run/ate/token anew",
  );

/**
 * Actor tokens in the records store. One per actor: issuing replaces the last one, so a token
 * works from the start it was issued for until the actor's next start (a resume, on any node)
 * or its deletion; a snapshot's copy of an old one (a process that kept it in memory) is
 * worthless after that. Only the secret's sha256 is stored.
 */
export class ActorTokens {
  constructor(
    private readonly store: RecordStore,
    private readonly clock: Clock = systemClock,
  ) {}

  /** A new token for the actor, replacing (and so revoking) its last one; its text. */
  async issue(actor: ActorTokenSubject): Promise<string> {
    const key = actorKey(actor.atespace, actor.actorId);
    const secret = newSecret();
    // Replaced whatever its version: two starts of one actor never race (a start holds the
    // actor in RESUMING), and a lost race would only leave the later token valid.
    for (let attempt = 0; ; attempt++) {
      const existing = (await this.store.get("actortoken", key)) as ActorTokenRecord | undefined;
      const value: Omit<ActorTokenRecord, "version"> = {
        atespace: actor.atespace,
        actorId: actor.actorId,
        sha256: hashSecret(secret),
        issuedAt: this.clock.now().toISOString(),
        actorCreatedAt: actor.createdAt,
      };
      try {
        await this.store.commit([
          { kind: "actortoken", key, expectVersion: existing?.version ?? 0, value: { ...value } },
        ]);
        return `ateact_${actor.atespace}_${actor.actorId}_${secret}`;
      } catch (err) {
        const raced = [Code.Aborted, Code.AlreadyExists, Code.NotFound].some((c) =>
          isAteError(err, c),
        );
        if (attempt >= 3 || !raced) throw err;
      }
    }
  }

  /** Forgets the actor's token (the actor is deleted); none is fine. */
  async revoke(atespace: string, actorId: string): Promise<void> {
    const key = actorKey(atespace, actorId);
    const existing = (await this.store.get("actortoken", key)) as ActorTokenRecord | undefined;
    if (existing)
      await this.store
        .commit([{ kind: "actortoken", key, expectVersion: existing.version }])
        .catch(() => {}); // replaced meanwhile: the newer one is checked against the actor anyway
  }

  /**
   * Forgets the actor's token when `stopped()` (asked after the token is read) says the actor
   * runs nowhere and no start has replaced the token since (a compare-and-set on the version
   * read): a stopped actor's token is in the memory of its last snapshot, and no live sandbox
   * needs it, as every start issues a new one. For snapshot tags, whose memory runs again as
   * other actors (forks, possibly in other atespaces), which must not inherit this one's live
   * credential — the rule golden snapshots follow by never having one.
   */
  async revokeWhileStopped(
    atespace: string,
    actorId: string,
    stopped: () => Promise<boolean>,
  ): Promise<boolean> {
    const key = actorKey(atespace, actorId);
    const existing = (await this.store.get("actortoken", key)) as ActorTokenRecord | undefined;
    if (!existing || !(await stopped())) return false;
    try {
      await this.store.commit([{ kind: "actortoken", key, expectVersion: existing.version }]);
      return true;
    } catch (err) {
      // Replaced meanwhile: by a start after the snapshot, whose token the snapshot lacks.
      if (isAteError(err, Code.Aborted) || isAteError(err, Code.NotFound)) return false;
      throw err;
    }
  }

  /**
   * Who an actor token's text is: the actor principal, or UNAUTHENTICATED when the token is
   * not the actor's current one or the actor it was issued to no longer exists.
   */
  async authenticate(text: string): Promise<Principal> {
    const parsed = parseActorToken(text);
    if (!parsed) throw notValid();
    const key = actorKey(parsed.atespace, parsed.actorId);
    const r = (await this.store.get("actortoken", key)) as ActorTokenRecord | undefined;
    // Compared even when there is none, so timing tells nothing about which actors exist.
    const matches = secretMatches(parsed.secret, r?.sha256 ?? "0".repeat(64));
    if (!r || !matches) throw notValid();
    const actor = (await this.store.get("actor", key)) as { createdAt?: string } | undefined;
    if (!actor || actor.createdAt !== r.actorCreatedAt)
      throw new AteError(
        Code.Unauthenticated,
        `the actor token of ${r.atespace}/${r.actorId} was issued to an actor that has since been deleted`,
      );
    return {
      name: r.actorId,
      role: "actor",
      atespace: r.atespace,
      actor: r.actorId,
      createdAt: r.issuedAt,
    };
  }
}
