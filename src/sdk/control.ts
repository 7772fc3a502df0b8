// The typed Connect clients of the Control and Admin APIs, as the SDK and the CLI make them.
import type { Client } from "@connectrpc/connect";
import type { Admin } from "../proto/gen/ateapi/admin_pb.ts";
import type { Control } from "../proto/gen/ateapi/control_pb.ts";

/** The Control API (actors, workers, atespaces): every unary call, typed. */
export type ControlClient = Client<typeof Control>;
/** The Admin API (tokens, who am I). */
export type AdminClient = Client<typeof Admin>;
