import { createContextKey } from "@connectrpc/connect";

/**
 * Who calls the Control service, as the API's authorization found it (src/auth sets it once
 * it has allowed the call; this folder cannot import src/auth, which imports it). Answers
 * that depend on the caller read it: a router is given its nodes' entry tokens.
 */
export interface ControlCaller {
  role: "admin" | "tenant" | "node" | "router" | "actor";
  name: string;
  atespace?: string;
}

/** Undefined (never set: a transport without authorization) is treated as nobody special. */
export const controlCallerKey = createContextKey<ControlCaller | undefined>(undefined, {
  description: "the Control call's authorized caller",
});
