import { AteError, Code } from "../errors/index.ts";
import type { SnapshotManifest } from "../snapshots/index.ts";
import type { ActorIdentity, RestoreRequest } from "./api.ts";
import { goldenActorId, goldenAtespace } from "./golden.ts";

/**
 * Everything a restore checks from the manifest before it touches anything: the scope, the
 * architecture, and whose snapshot it is. A snapshot is restored only into the actor that
 * took it (origin "own"), or — its template's golden snapshot (origin "golden") — into an
 * actor of the template the golden controller made it for. Anything else is someone else's
 * memory and files: FAILED_PRECONDITION (the caller is authorized; the snapshot a record or
 * status points at is wrong, and only fixing that state helps, not other credentials).
 */
export function checkRestorable(
  manifest: SnapshotManifest,
  req: Pick<RestoreRequest, "actor" | "source" | "scope" | "origin">,
  arch: string,
): void {
  if (req.scope === "Full" && manifest.scope !== "Full") {
    throw new AteError(
      Code.FailedPrecondition,
      `snapshot ${req.source} holds only data (scope Data); it cannot be restored with scope Full`,
    );
  }
  if (manifest.arch !== arch) {
    throw new AteError(
      Code.FailedPrecondition,
      `snapshot ${req.source} was taken on ${manifest.arch}; this node is ${arch}: incompatible runtime`,
    );
  }
  checkOwner(manifest.actor, req);
}

/**
 * A combined restore's two manifests (see combined-restore.ts): the base must be the golden
 * snapshot of the actor's own template (origin "golden"), the data the actor's own snapshot of
 * scope Data (or, for a new actor, the golden snapshot itself). A Full snapshot given as data
 * is refused: its files belong with its own memory, restored with scope Full and no base.
 */
export function checkCombined(
  base: SnapshotManifest,
  data: SnapshotManifest,
  req: Pick<RestoreRequest, "actor" | "source" | "scope" | "origin"> & { base: string },
  arch: string,
): void {
  if (req.scope !== "Data") {
    throw new AteError(
      Code.InvalidArgument,
      `a restore with base ${req.base} lays in only the data of ${req.source}: its scope must be Data, not ${req.scope}`,
    );
  }
  checkRestorable(base, { ...req, source: req.base, scope: "Data", origin: "golden" }, arch);
  checkRestorable(data, req, arch);
  if (req.source !== req.base && data.scope !== "Data") {
    throw new AteError(
      Code.FailedPrecondition,
      `snapshot ${req.source} has scope ${data.scope}, not Data: only a Data snapshot's files are laid into base ${req.base}; restore it with scope Full and no base; nothing was restored`,
    );
  }
}

function checkOwner(
  owner: ActorIdentity,
  req: Pick<RestoreRequest, "actor" | "source" | "origin">,
): void {
  const actor = req.actor;
  if ((req.origin ?? "own") === "own") {
    if (owner?.atespace === actor.atespace && owner?.actorId === actor.actorId) return;
    throw new AteError(
      Code.FailedPrecondition,
      `snapshot ${req.source} belongs to actor ${describe(owner)}, not to ${describe(actor)}: an actor is restored only from its own snapshots; nothing was restored`,
    );
  }
  const golden = goldenActorId(actor.templateNamespace, actor.templateName);
  if (
    owner?.atespace === goldenAtespace &&
    owner?.actorId === golden &&
    owner?.templateNamespace === actor.templateNamespace &&
    owner?.templateName === actor.templateName
  )
    return;
  throw new AteError(
    Code.FailedPrecondition,
    `snapshot ${req.source} is not the golden snapshot of template ${actor.templateNamespace}/${actor.templateName} (that one is taken by ${goldenAtespace}/${golden}); it belongs to actor ${describe(owner)}, so it is not restored into ${describe(actor)}; nothing was restored`,
  );
}

function describe(a: ActorIdentity | undefined): string {
  if (!a || typeof a !== "object") return "(none recorded)";
  return `${a.atespace}/${a.actorId} (template ${a.templateNamespace}/${a.templateName})`;
}

/** A snapshot's runtime cannot be had on this node: say which, and that the snapshot is intact. */
export function runtimeUnavailable(
  manifest: SnapshotManifest,
  source: string,
  err: unknown,
): AteError {
  const assets = Object.entries(manifest.assets)
    .map(([n, a]) => `${n} sha256 ${a.sha256}`)
    .join(", ");
  return new AteError(
    Code.FailedPrecondition,
    `snapshot ${source} needs the ${manifest.sandboxClass} runtime it was taken with (${assets}), which is unavailable on this node: ${(err as Error).message}; the snapshot is untouched`,
    [],
    { cause: err },
  );
}
