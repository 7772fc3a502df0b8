// An API server as tests need it: real HTTP on a free port, tokens in the control plane's
// records store, and an admin token to call it with.
import assert from "node:assert/strict";
import type { DescService } from "@bufbuild/protobuf";
import { type Client, Code as ConnectCode, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { TokenStore } from "../../src/auth/index.ts";
import { bearer } from "../../src/cli/control-client.ts";
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

/** A client of one of the API's services (Connect over HTTP/1.1) calling with `token`. */
export function serviceClient<T extends DescService>(
  service: T,
  api: TestApi,
  token: string,
): Client<T> {
  return createClient(
    service,
    createConnectTransport({ baseUrl: api.url, httpVersion: "1.1", interceptors: [bearer(token)] }),
  );
}

/** The Connect code's name and the message a call fails with; fails the test if it succeeds. */
export function callFailure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  return p.then(
    () => assert.fail("the call succeeded"),
    (e: unknown) => {
      const c = ConnectError.from(e);
      return { code: ConnectCode[c.code], message: c.rawMessage };
    },
  );
}
