import { qualifiedResource, type ResourceType } from "../api/schema/index.ts";
import { AteError, Code } from "../errors/index.ts";

// The errors every resource store gives, worded as a Kubernetes API server words them.

const qualified = qualifiedResource;

export function notFound(type: ResourceType, name: string): AteError {
  return new AteError(Code.NotFound, `${qualified(type)} "${name}" not found`);
}

export function alreadyExists(type: ResourceType, name: string): AteError {
  return new AteError(
    Code.AlreadyExists,
    `${qualified(type)} "${name}" already exists: apply it to update, or delete it first`,
  );
}

export function conflict(type: ResourceType, name: string): AteError {
  return new AteError(
    Code.Aborted,
    `Operation cannot be fulfilled on ${qualified(type)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
  );
}

export function tooOld(after: number, oldest: number): AteError {
  return new AteError(
    Code.OutOfRange,
    `too old resource version: ${after} (${oldest}): list again and watch from the list's resourceVersion`,
  );
}

/** A watch's starting point: the number after which events are delivered. */
export function parseWatchVersion(resourceVersion: string): number {
  const after = Number(resourceVersion);
  if (!/^\d{1,15}$/.test(resourceVersion) || !Number.isSafeInteger(after)) {
    throw new AteError(
      Code.InvalidArgument,
      `resourceVersion "${resourceVersion.slice(0, 64)}" is not a version from this store: watch from a list's resourceVersion, or from "" (now)`,
    );
  }
  return after;
}
