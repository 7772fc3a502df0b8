export { type CommittedOptions, committedSnapshot } from "./committed.ts";
export { hashFile } from "./hash-file.ts";
export { metered } from "./hashing-stream.ts";
export {
  defaultSnapshotHistory,
  maxSnapshotHistory,
  snapshotHistoryAnnotation,
  snapshotHistoryOf,
} from "./history.ts";
export {
  downloadSnapshot,
  maxManifestBytes,
  readManifest,
  readManifestBytes,
  snapshotName,
  writeSnapshot,
} from "./io.ts";
export {
  isCleanSnapshotFileName,
  manifestFormatVersion,
  manifestName,
  parseManifest,
  type SnapshotManifest,
} from "./manifest.ts";
export { redactSecrets } from "./redact.ts";
export { removeSnapshotObjects } from "./remove.ts";
export type {
  ActorIdentity,
  SecretKeyRef,
  SnapshotFile,
  SnapshotScope,
  Workload,
  WorkloadContainer,
  WorkloadEnvVar,
} from "./types.ts";
