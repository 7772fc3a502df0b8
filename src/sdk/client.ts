// connect(): the SDK's entry point. A client of one ate server (its Control API, its
// router), made without a network call; the API's descriptors load on the first call.
import { type ActorHandle, Actors } from "./actors.ts";
import { Atespaces } from "./atespaces.ts";
import type { AdminClient, ControlClient } from "./control.ts";
import { type ConnectOptions, type Endpoints, resolveEndpoints } from "./options.ts";
import { SnapshotTags } from "./snapshot-tags.ts";

export class AteClient {
  /** The Control API's actor calls. */
  readonly actors: Actors;
  /** The Control API's atespace calls. */
  readonly atespaces: Atespaces;
  /** The Control API's snapshot tag calls. */
  readonly snapshotTags: SnapshotTags;
  private controlClient?: Promise<ControlClient>;
  private adminClient?: Promise<AdminClient>;

  constructor(readonly endpoints: Endpoints) {
    const control = () => this.control();
    this.actors = new Actors(control, endpoints);
    this.atespaces = new Atespaces(control);
    this.snapshotTags = new SnapshotTags(control, endpoints);
  }

  /** One actor by name (in the client's atespace unless given). */
  actor(name: string, atespace?: string): ActorHandle {
    return this.actors.handle(name, atespace);
  }

  /** The raw Control API client (every unary call, typed; Connect's call options). */
  control(): Promise<ControlClient> {
    this.controlClient ??= (async () => {
      const [{ unaryClient }, { Control }] = await Promise.all([
        import("./unary-client.ts"),
        import("../proto/gen/ateapi/control_pb.ts"),
      ]);
      const { server, token, tls } = this.endpoints;
      return unaryClient(Control, server, token, tls);
    })();
    return this.controlClient;
  }

  /** The raw Admin API client (tokens, who am I). */
  admin(): Promise<AdminClient> {
    this.adminClient ??= (async () => {
      const [{ unaryClient }, { Admin }] = await Promise.all([
        import("./unary-client.ts"),
        import("../proto/gen/ateapi/admin_pb.ts"),
      ]);
      const { server, token, tls } = this.endpoints;
      return unaryClient(Admin, server, token, tls);
    })();
    return this.adminClient;
  }
}

/**
 * A client of the ate server at `server` (default $ATE_SERVER, else the local `ate up`) with
 * `token` (default $ATE_TOKEN). Makes no call: errors come with the first one.
 */
export function connect(options: ConnectOptions = {}): AteClient {
  return new AteClient(resolveEndpoints(options));
}
