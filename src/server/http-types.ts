import type { connectNodeAdapter } from "@connectrpc/connect-node";

/** The request and response types connect-node hands to its fallback handler. */
type Fallback = NonNullable<Parameters<typeof connectNodeAdapter>[0]["fallback"]>;
export type Req = Parameters<Fallback>[0];
export type Res = Parameters<Fallback>[1];
