import { createHmac } from "node:crypto";

/** What the entry token is derived for: a new purpose (or format) gets a new label. */
const label = "ate node entry v1";

/**
 * The secret routers present to a node's actor entry point (Proxy-Authorization: Bearer),
 * derived from the node's call secret: the node computes it at start, the control plane from
 * the call secret it stores, so nothing new is registered or kept. One-way: a router holding
 * it cannot call the node's API, and each node's differs, so a node host learns no secret
 * that opens another node. A node that restarts (a new call secret) has a new one.
 */
export function nodeEntryToken(callSecret: string): string {
  return createHmac("sha256", callSecret).update(label).digest("hex");
}
