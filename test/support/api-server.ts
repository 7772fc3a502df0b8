// An API server as tests need it: real HTTP on a free port, tokens in the control plane's
// records store, and an admin token to call it with.
import { TokenStore } from "../../src/auth/index.ts";
import type { ControlPlane } from "../../src/controlplane/index.ts";
import { silentLogger } from "../../src/log/index.ts";
import type { ResourceStore } from "../../src/resources/index.ts";
import { type RunningApiServer, startApiServer } from "../../src/server/index.ts";

export interface TestApi {
  server: RunningApiServer;
  url: string;
  tokens: TokenStore;
  /** An admin token's text. */
  adminToken: string;
  /** A tenant token of `atespace` (the atespace must exist). */
  tenantToken(name: string, atespace: string, ttlMs?: number): Promise<string>;
  close(): Promise<void>;
}

/** `authorization: Bearer …` for fetch. */
export const auth = (token: string): Record<string, string> => ({
  authorization: `Bearer ${token}`,
});

let servers = 0;

export async function startTestApi(o: {
  controlPlane: ControlPlane;
  resources: ResourceStore;
  debug?: boolean;
  tokenRecheckMs?: number;
}): Promise<TestApi> {
  const tokens = new TokenStore(o.controlPlane.records.store);
  // Several servers may share one records store.
  const { text: adminToken } = await tokens.create({
    name: `test-admin-${++servers}`,
    role: "admin",
  });
  const server = await startApiServer({
    port: 0,
    controlPlane: o.controlPlane,
    resources: o.resources,
    tokens,
    logger: silentLogger,
    ...(o.debug ? { debug: true } : {}),
    ...(o.tokenRecheckMs ? { tokenRecheckMs: o.tokenRecheckMs } : {}),
  });
  return {
    server,
    url: server.url,
    tokens,
    adminToken,
    async tenantToken(name, atespace, ttlMs) {
      const { text } = await tokens.create({
        name,
        role: "tenant",
        atespace,
        ...(ttlMs ? { ttlMs } : {}),
      });
      return text;
    },
    close: () => server.close(),
  };
}
