export { type CommittedOptions, committedSnapshot } from "./committed.ts";
export { hashFile } from "./hash-file.ts";
export {
  downloadSnapshot,
  maxManifestBytes,
  readManifest,
  readManifestBytes,
  snapshotName,
  writeSnapshot,
} from "./io.ts";
export {
  manifestFormatVersion,
  manifestName,
  parseManifest,
  type SnapshotManifest,
} from "./manifest.ts";
export type {
  ActorIdentity,
  SnapshotFile,
  SnapshotScope,
  Workload,
  WorkloadContainer,
} from "./types.ts";
