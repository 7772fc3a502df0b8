import type { ServiceImpl } from "@connectrpc/connect";
import { withConnectErrors } from "../../errors/connect.ts";
import type { NodeRegistry } from "../../proto/gen/ateapi/node_pb.ts";
import type { NodeRegistryApi } from "../api.ts";
import { registrationFromWire, registrationResultToWire } from "./registration-convert.ts";

/**
 * The ateapi.NodeRegistry service over any NodeRegistryApi (the control plane's). Who may
 * call it (node tokens) is the API server's edge's decision, not this service's.
 */
export function nodeRegistryService(registry: NodeRegistryApi): ServiceImpl<typeof NodeRegistry> {
  return {
    register: withConnectErrors(async (req, ctx) =>
      registrationResultToWire(
        await registry.register(
          registrationFromWire(req.registration, "registration"),
          req.callSecret,
          { signal: ctx.signal },
        ),
      ),
    ),
    heartbeat: withConnectErrors(async (req, ctx) =>
      registrationResultToWire(
        await registry.heartbeat(registrationFromWire(req.registration, "registration"), {
          signal: ctx.signal,
        }),
      ),
    ),
  };
}
