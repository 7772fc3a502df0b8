// Node and router tokens against every service of a real API server: each may make only its
// component's calls; everything else is PERMISSION_DENIED naming the role, before any handler.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { DescService } from "@bufbuild/protobuf";
import { Code as ConnectCode, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { auth } from "../../test/support/api-server.ts";
import { actorTemplate, sandboxConfig } from "../api/testing.ts";
import { ActorTemplateType, SandboxConfigType } from "../api/v1alpha1/index.ts";
import { TokenStore } from "../auth/index.ts";
import { bearer } from "../cli/control-client.ts";
import { ControlPlane, StaticNodeDirectory } from "../controlplane/index.ts";
import { silentLogger } from "../log/index.ts";
import type { NodeRegistration, NodeRegistryApi } from "../node/index.ts";
import { Admin, type Role } from "../proto/gen/ateapi/admin_pb.ts";
import { Control } from "../proto/gen/ateapi/control_pb.ts";
import { NodeRegistry } from "../proto/gen/ateapi/node_pb.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";
import { type RunningApiServer, startApiServer } from "./api-server.ts";

const apis = "/apis/ate.dev/v1alpha1";

/** What each machine role may call; every other RPC of these services is refused. */
const allowed: Record<"node" | "router", Set<string>> = {
  node: new Set(["NodeRegistry/Register", "NodeRegistry/Heartbeat", "Admin/WhoAmI"]),
  router: new Set([
    "Control/GetActor",
    "Control/ResumeActor",
    "Control/WatchActors",
    "Control/ReportActivity",
    "Admin/WhoAmI",
  ]),
};

const registration: NodeRegistration = {
  name: "n1",
  url: "http://10.0.0.5:7444",
  entry: "10.0.0.5:7481",
  address: "10.0.0.5",
  arch: "amd64",
  sandboxClasses: ["gvisor"],
  capacity: { workers: 4, source: "--max-workers 4", memoryBytes: 2 ** 30, cpuMillis: 2000 },
  cachedAssets: [],
  cachedImages: [],
};

describe("node and router tokens at the API edge", () => {
  const resources = new SqliteResourceStore({ path: ":memory:", watchPollMs: 10 });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const cp = new ControlPlane({ records, resources, nodes: new StaticNodeDirectory({}) });
  const tokens = new TokenStore(records.store);
  /** What reached the registry: only calls the edge let through. */
  const reached: string[] = [];
  const registry: NodeRegistryApi = {
    async register(r) {
      reached.push(`register ${r.name}`);
      return { heartbeatMs: 2000, lostAfterMs: 10_000, staleWorkers: [] };
    },
    async heartbeat(r) {
      reached.push(`heartbeat ${r.name}`);
      return { heartbeatMs: 2000, lostAfterMs: 10_000, staleWorkers: [] };
    },
  };
  let api: RunningApiServer;
  const token: Record<"admin" | "tenant" | "node" | "router", string> = {
    admin: "",
    tenant: "",
    node: "",
    router: "",
  };

  const client = <S extends DescService>(service: S, t: string, grpc = false) =>
    createClient(
      service,
      (grpc ? createGrpcTransport : createConnectTransport)({
        baseUrl: api.url,
        httpVersion: grpc ? "2" : "1.1",
        interceptors: [bearer(t)],
      } as Parameters<typeof createConnectTransport>[0] &
        Parameters<typeof createGrpcTransport>[0]),
    );

  /** Calls one method with a plausible request; the error, or undefined when it went through. */
  const attempt = async (
    service: DescService,
    method: DescService["methods"][number],
    t: string,
    request: object,
  ): Promise<ConnectError | undefined> => {
    const c = client(service, t) as unknown as Record<string, (r: object, o: object) => unknown>;
    const call = c[method.localName] as (r: object, o: object) => unknown;
    try {
      if (method.methodKind === "server_streaming") {
        // Refusals come before the first message; an allowed stream is left after it.
        const signal = AbortSignal.timeout(2000);
        for await (const _ of call(request, { signal }) as AsyncIterable<unknown>) break;
      } else await call(request, {});
      return undefined;
    } catch (err) {
      return ConnectError.from(err);
    }
  };

  const requestFor = (method: string): object => {
    const ref = { actorRef: { atespace: "a", name: "x" } };
    if (method === "CreateActor")
      return {
        actorRef: { atespace: "a", name: "new" },
        actorTemplateNamespace: "default",
        actorTemplateName: "counter",
      };
    if (method === "CreateAtespace" || method === "DeleteAtespace" || method === "GetAtespace")
      return { name: "a" };
    if (method === "CreateToken") return { name: "minted", role: 1 };
    if (method === "DeleteToken") return { name: "admin1" };
    if (method === "Register") return { registration, callSecret: "s".repeat(32) };
    if (method === "Heartbeat") return { registration };
    return ref;
  };

  before(async () => {
    await resources.create(SandboxConfigType, sandboxConfig("gvisor", { default: true }));
    await resources.create(ActorTemplateType, actorTemplate("counter"));
    api = await startApiServer({
      port: 0,
      controlPlane: cp,
      resources,
      tokens,
      nodeRegistry: registry,
      logger: silentLogger,
    });
    await cp.createAtespace("a");
    await cp.createActor({ atespace: "a", name: "x" }, "default", "counter");
    token.admin = (await tokens.create({ name: "admin1", role: "admin" })).text;
    token.tenant = (await tokens.create({ name: "t1", role: "tenant", atespace: "a" })).text;
    token.node = (await tokens.create({ name: "n1", role: "node" })).text;
    token.router = (await tokens.create({ name: "r1", role: "router" })).text;
  });
  after(async () => {
    await api.close();
    await resources.close();
    await records.store.close();
  });

  for (const role of ["node", "router"] as const) {
    it(`lets a ${role} token make only its calls, and refuses every other one naming the role`, async () => {
      const services: DescService[] = [Control, Admin, NodeRegistry];
      for (const service of services)
        for (const method of service.methods) {
          const name = `${service.name}/${method.name}`;
          const err = await attempt(service, method, token[role], requestFor(method.name));
          if (allowed[role].has(name)) {
            assert.ok(
              err?.code !== ConnectCode.PermissionDenied &&
                err?.code !== ConnectCode.Unauthenticated,
              `${role} ${name}: ${err?.message}`,
            );
            continue;
          }
          assert.equal(err?.code, ConnectCode.PermissionDenied, `${role} ${name}`);
          assert.match(
            err.rawMessage,
            new RegExp(
              `^${role} token "${role === "node" ? "n1" : "r1"}" may not call ateapi\\.${name.replace("/", "\\/")}: a ${role} token may only `,
            ),
            name,
          );
        }
      // Nothing refused had any effect.
      assert.equal((await cp.getActor({ atespace: "a", name: "x" })).actorId, "x");
      assert.deepEqual((await tokens.list()).map((t) => t.name).sort(), [
        "admin1",
        "n1",
        "r1",
        "t1",
      ]);
      // Over gRPC too.
      await assert.rejects(
        client(Control, token[role], true).listAtespaces({}),
        (e) => e instanceof ConnectError && e.code === ConnectCode.PermissionDenied,
      );
    });
  }

  it("makes node and router tokens through the Admin API, with no atespace and no unknown role", async () => {
    const admin = client(Admin, token.admin);
    const { token: made, secret } = await admin.createToken({ name: "n2", role: 3 });
    assert.equal(made?.role, 3);
    assert.match(secret, /^ate_n2_[0-9a-f]{64}$/);
    assert.equal((await tokens.authenticate(`Bearer ${secret}`)).role, "node");
    for (const [request, message] of [
      [
        { name: "r2", role: 4, atespace: "a" },
        /atespace: Forbidden: a router token is not limited/,
      ],
      [
        { name: "x2", role: 99 },
        /role: Unsupported value: 99: give ROLE_ADMIN, ROLE_TENANT, ROLE_NODE or ROLE_ROUTER/,
      ],
      [{ name: "admin", role: 3 }, /reserved for the admin credential/],
    ] as const)
      await assert.rejects(
        admin.createToken(request as { name: string; role: Role; atespace?: string }),
        (e) =>
          e instanceof ConnectError &&
          e.code === ConnectCode.InvalidArgument &&
          message.test(e.rawMessage),
      );
    await admin.deleteToken({ name: "n2" });
  });

  it("tells a node or router token who it is", async () => {
    for (const role of ["node", "router"] as const) {
      const { token: who } = await client(Admin, token[role]).whoAmI({});
      assert.equal(who?.role, role === "node" ? 3 : 4);
      assert.equal(who?.atespace, "");
    }
  });

  it("lets only node (and admin) tokens reach the node registry", async () => {
    reached.length = 0;
    const register = NodeRegistry.methods.find((m) => m.name === "Register");
    assert.ok(register);
    for (const who of ["node", "admin"] as const)
      assert.equal(
        await attempt(NodeRegistry, register, token[who], requestFor("Register")),
        undefined,
      );
    for (const who of ["tenant", "router"] as const) {
      const err = await attempt(NodeRegistry, register, token[who], requestFor("Register"));
      assert.equal(err?.code, ConnectCode.PermissionDenied, who);
      assert.match(err.rawMessage, /may not call ateapi\.NodeRegistry\/Register/);
    }
    const anonymous = await attempt(NodeRegistry, register, "", requestFor("Register"));
    assert.equal(anonymous?.code, ConnectCode.Unauthenticated);
    assert.deepEqual(reached, ["register n1", "register n1"]);
  });

  it("binds a node token to its node's name; an admin may register any node", async () => {
    reached.length = 0;
    const as = (name: string) => ({ ...registration, name });
    for (const [method, request] of [
      ["Register", { registration: as("n2"), callSecret: "s".repeat(32) }],
      ["Heartbeat", { registration: as("n2") }],
      ["Register", { callSecret: "s".repeat(32) }],
      ["Heartbeat", { registration: as("n1\u0000") }],
    ] as const) {
      const m = NodeRegistry.methods.find((x) => x.name === method);
      assert.ok(m);
      for (const grpc of [false, true]) {
        const c = client(NodeRegistry, token.node, grpc) as unknown as Record<
          string,
          (r: object) => Promise<unknown>
        >;
        const call = c[m.localName] as (r: object) => Promise<unknown>;
        const err: ConnectError | undefined = await call(request).then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        );
        assert.equal(
          err?.code,
          ConnectCode.PermissionDenied,
          `${method} ${JSON.stringify(request)}`,
        );
        assert.match(err.rawMessage, /^node token "n1" may not (register|heartbeat) as node "/);
        if ("registration" in request && request.registration.name === "n2")
          assert.match(err.rawMessage, /as node "n2": .*--name n1/);
      }
    }
    assert.deepEqual(reached, [], "no refused call reached the registry");
    const register = NodeRegistry.methods.find((m) => m.name === "Register");
    assert.ok(register);
    const asN2 = { registration: as("n2"), callSecret: "s".repeat(32) };
    assert.equal(await attempt(NodeRegistry, register, token.admin, asN2), undefined);
    assert.deepEqual(reached, ["register n2"]);
  });

  it("lets a router read ActorTemplates over REST and nothing else; a node nothing at all", async () => {
    const rest = async (t: string, method: string, path: string, body?: unknown) => {
      const ac = new AbortController();
      const res = await fetch(`${api.url}${path}`, {
        method,
        headers: { ...auth(t), ...(body ? { "content-type": "application/json" } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
        signal: ac.signal,
      });
      const status = res.status;
      const text = status === 200 && path.includes("watch") ? "" : await res.text();
      ac.abort();
      return { status, text };
    };
    const templates = `${apis}/namespaces/default/actortemplates`;
    for (const path of [
      templates,
      `${templates}/counter`,
      `${templates}?watch=1`,
      `${apis}/actortemplates`,
    ])
      assert.equal((await rest(token.router, "GET", path)).status, 200, path);
    for (const [t, method, path, message] of [
      [
        token.router,
        "GET",
        `${apis}/sandboxconfigs`,
        /^router token "r1" may not list sandboxconfigs: a router token may only/,
      ],
      [token.router, "GET", `${apis}/workerpools`, /may not list workerpools/],
      [token.router, "POST", templates, /may not create actortemplates/],
      [token.router, "DELETE", `${templates}/counter`, /may not delete actortemplates/],
      [
        token.node,
        "GET",
        templates,
        /^node token "n1" may not list actortemplates: a node token may only register/,
      ],
      [token.node, "GET", `${apis}/sandboxconfigs`, /^node token "n1" may not list sandboxconfigs/],
      [
        token.node,
        "GET",
        "/ate/v1/atespaces/a/actors/x/logs",
        /^node token "n1" may not read actors' logs/,
      ],
      [
        token.router,
        "GET",
        "/ate/v1/atespaces/a/actors/x/logs",
        /^router token "r1" may not read actors' logs/,
      ],
    ] as const) {
      const r = await rest(t, method, path, method === "POST" ? actorTemplate("evil") : undefined);
      assert.equal(r.status, 403, `${method} ${path}`);
      assert.match(JSON.parse(r.text).message, message, `${method} ${path}`);
    }
    assert.equal((await resources.list(ActorTemplateType)).items.length, 1, "nothing was written");
  });
});
