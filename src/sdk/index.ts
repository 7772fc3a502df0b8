// ate's TypeScript SDK: `import { connect } from "ate"`. Only what a caller names is exported
// here; the rest of src/sdk is its implementation.
export { AteError, Code, codeName, isAteError } from "../errors/index.ts";
export type { Actor, Atespace, SnapshotTag } from "../proto/gen/ateapi/control_pb.ts";
export { Actor_Status, Actor_Tier } from "../proto/gen/ateapi/control_pb.ts";
export type {
  ActorHandle,
  Actors,
  CallOptions,
  CreateActorOptions,
  InAtespace,
  ListActorsOptions,
  ResumeOptions,
} from "./actors.ts";
export type { Atespaces } from "./atespaces.ts";
export { AteClient, connect } from "./client.ts";
export type { AdminClient, ControlClient } from "./control.ts";
export type { LogsOptions } from "./logs.ts";
export type { ConnectOptions, Endpoints } from "./options.ts";
export type { TlsOptions } from "./request.ts";
export type {
  CreateSnapshotTagOptions,
  ListSnapshotTagsOptions,
  SnapshotTags,
} from "./snapshot-tags.ts";
