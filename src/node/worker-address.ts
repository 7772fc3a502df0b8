import net from "node:net";
import { AteError, Code } from "../errors/index.ts";

/** Where ate's workers live, in words for messages. */
export const workerAddressRange = "169.254.0.0/16 (not 169.254.169.0/24)";

/**
 * Whether `address` can be a worker's: an IPv4 literal in the link-local 169.254.0.0/16
 * where nodes put their workers (src/sandbox/gvisor/network.ts), outside the /24s no node
 * uses: .0 and .255 (reserved) and .169 (which holds the cloud metadata service
 * 169.254.169.254; see src/up/network-claim.ts). Anything else a node reports is not a worker
 * and must never be connected to (a router's own loopback, private hosts, metadata).
 */
export function isWorkerAddress(address: string): boolean {
  if (!net.isIPv4(address)) return false;
  const [a, b, c] = address.split(".").map(Number);
  return a === 169 && b === 254 && c !== 0 && c !== 255 && c !== 169;
}

/**
 * Refuses a worker address a node reported that cannot be a worker's (see isWorkerAddress),
 * naming the node: recorded, routers would be sent there.
 */
export function checkWorkerAddress(node: string, worker: string, address: string): void {
  if (isWorkerAddress(address)) return;
  throw new AteError(
    Code.FailedPrecondition,
    `node ${node} reported its worker ${worker} at ${JSON.stringify(address.slice(0, 64))}: a worker's address must be an IPv4 address in ${workerAddressRange}, where ate's workers live; the worker is not recorded (nothing is sent there)`,
  );
}
