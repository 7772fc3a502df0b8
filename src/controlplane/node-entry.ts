import { isIP } from "node:net";
import { AteError, Code } from "../errors/index.ts";
import type { NodeRegistration } from "../node/index.ts";

/** An IP literal or host name as URLs spell it (IPv6 bracketed and compressed, lower case). */
function canonicalHost(host: string): string | undefined {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  try {
    return new URL(`http://${isIP(bare) === 6 ? `[${bare}]` : bare}/`).hostname;
  } catch {
    return undefined;
  }
}

/**
 * The entry point of a node on the network (one the control plane calls over HTTP, not
 * `ate up`'s in-process node): it must have one, since routers reach such a node's workers
 * only through it (never its worker addresses directly, which mean nothing off the node), and
 * it must be on the node's own `address`, so a node token cannot send routers, with the
 * node's entry token, to another host. Run after checkRegistration (`entry` is host:port then).
 * INVALID_ARGUMENT naming the field.
 */
export function checkNodeEntry(r: NodeRegistration): void {
  const entry = r.entry ?? "";
  const refuse = (why: string) =>
    new AteError(
      Code.InvalidArgument,
      `registration.entry: Invalid value: ${JSON.stringify(entry.slice(0, 80))}: ${why}`,
    );
  if (!entry)
    throw refuse(
      `required for a node on the network: routers reach its workers only through its actor entry point (ate node serves it on --address, port --entry-port), e.g. ${r.address}:7481`,
    );
  const host = /^(.+):\d{1,5}$/.exec(entry)?.[1] ?? "";
  const want = canonicalHost(r.address);
  if (!want || canonicalHost(host) !== want)
    throw refuse(
      `must be on the node's own address (registration.address ${r.address}), e.g. ${isIP(r.address) === 6 ? `[${r.address}]` : r.address}:7481`,
    );
}
