import { createClient, type Transport } from "@connectrpc/connect";
import { fromConnectError } from "../../errors/connect.ts";
import { AteError, Code } from "../../errors/index.ts";
import { NodeRegistry } from "../../proto/gen/ateapi/node_pb.ts";
import type { NodeRegistration, NodeRegistrationResult, NodeRegistryApi } from "../api.ts";
import { registrationResultFromWire, registrationToWire } from "./registration-convert.ts";

/**
 * The control plane's NodeRegistryApi for a node, over any Transport: an HTTP one to the API
 * server carrying the node's token, or one in process. NOT_FOUND from a heartbeat arrives as
 * it was sent, so the node registers again.
 */
export class NodeRegistryClient implements NodeRegistryApi {
  private readonly client;

  constructor(transport: Transport) {
    this.client = createClient(NodeRegistry, transport);
  }

  async register(
    registration: NodeRegistration,
    callSecret: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<NodeRegistrationResult> {
    return decode(
      await this.client
        .register({ registration: registrationToWire(registration), callSecret }, options)
        .catch((err) => Promise.reject(fromConnectError(err))),
    );
  }

  async heartbeat(
    registration: NodeRegistration,
    options: { signal?: AbortSignal } = {},
  ): Promise<NodeRegistrationResult> {
    return decode(
      await this.client
        .heartbeat({ registration: registrationToWire(registration) }, options)
        .catch((err) => Promise.reject(fromConnectError(err))),
    );
  }
}

function decode(m: Parameters<typeof registrationResultFromWire>[0]): NodeRegistrationResult {
  try {
    return registrationResultFromWire(m);
  } catch (err) {
    throw new AteError(
      Code.Internal,
      `the control plane answered a node registration with something ate cannot use: ${(err as Error).message}`,
    );
  }
}
