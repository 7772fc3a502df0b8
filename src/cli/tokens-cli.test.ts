// Tokens and tenants through the CLI, against a real API server (in process; test/
// cli-binary.test.ts runs the same flow through bin/ate).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { startTestApi, type TestApi } from "../../test/support/api-server.ts";
import { runCliCaptured } from "../../test/support/cli.ts";
import { NoopNodeAgent } from "../../test/support/noop-node-agent.ts";
import { declareNoopPool } from "../../test/support/noop-pool.ts";
import { sandboxConfig } from "../api/testing.ts";
import { ControlPlane, StaticNodeDirectory } from "../controlplane/index.ts";
import { Records, SqliteRecordStore } from "../records/index.ts";
import { SqliteResourceStore } from "../resources/index.ts";
import { exitCodes } from "./main.ts";

describe("ate tokens and tenants (against an API server)", () => {
  const resources = new SqliteResourceStore({ path: ":memory:", watchPollMs: 10 });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const agent = new NoopNodeAgent();
  const cp = new ControlPlane({
    records,
    resources,
    nodes: new StaticNodeDirectory({ n1: agent }),
  });
  const dir = mkdtempSync(join(tmpdir(), "ate-tokens-cli-"));
  const saved = { config: process.env.ATE_CONFIG, token: process.env.ATE_TOKEN };
  let api: TestApi;
  let tenant = "";

  /** The CLI with these arguments exactly (no server or token added). */
  const run = async (...args: string[]) => {
    return runCliCaptured(args);
  };
  const as = (token: string, ...args: string[]) =>
    run("--server", api.url, "--token", token, ...args);

  before(async () => {
    // Never the developer's own config or token.
    process.env.ATE_CONFIG = join(dir, "none.yaml");
    delete process.env.ATE_TOKEN;
    await declareNoopPool(resources, records, agent, { replicas: 1 });
    api = await startTestApi({ controlPlane: cp, resources });
    for (const s of ["a", "b"]) await cp.createAtespace(s);
    await cp.createActor({ atespace: "b", name: "theirs" }, "default", "counter");
  });
  after(async () => {
    process.env.ATE_CONFIG = saved.config;
    if (saved.config === undefined) delete process.env.ATE_CONFIG;
    if (saved.token !== undefined) process.env.ATE_TOKEN = saved.token;
    await api.close();
    await resources.close();
    await records.store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates a tenant token, printing it once, and lists tokens without secrets", async () => {
    const created = await as(
      api.adminToken,
      "create",
      "token",
      "t",
      "--atespace",
      "a",
      "--ttl",
      "24h",
    );
    assert.equal(created.code, 0, created.err);
    assert.match(created.out, /^ate_t_[0-9a-f]{64}\n$/);
    assert.match(
      created.err,
      /token\/t created \(tenant of atespace a, expires \S+\): it is shown only now/,
    );
    tenant = created.out.trim();
    const table = await as(api.adminToken, "get", "tokens");
    assert.match(table.out, /^NAME\s+ROLE\s+ATESPACE\s+AGE\s+EXPIRES\n/);
    assert.match(table.out, /^t\s+tenant\s+a\s+\d+s\s+in 23h\n/m);
    assert.match(table.out, /^test-admin-\d+\s+admin\s+<all>\s+\d+s\s+never\n/m);
    const json = await as(api.adminToken, "get", "token", "t", "-o", "json");
    assert.equal(JSON.parse(json.out).role, "ROLE_TENANT");
    assert.doesNotMatch(table.out + json.out, /[0-9a-f]{64}/, "no secret is ever printed again");

    for (const [args, message] of [
      [["create", "token", "u"], /--atespace NAME is required/],
      [
        ["create", "token", "u", "--atespace", "a", "--ttl", "soon"],
        /--ttl "soon": give a duration/,
      ],
      [
        ["create", "token", "u", "--atespace", "a", "--ttl", "0s"],
        /--ttl "0s": a token must live longer than 0s; leave --ttl out/,
      ],
      [
        ["create", "token", "u", "--atespace", "a", "--ttl", "9999999999999999999999999d"],
        /ttl: Invalid value: .*ten years/,
      ],
      [["create", "token", "u", "--atespace", "nope"], /atespace nope does not exist/],
      [
        ["create", "token", "u", "--admin", "--atespace", "a"],
        /give one of --atespace, --admin, --node or --router, not --atespace and --admin/,
      ],
    ] as const) {
      const r = await as(api.adminToken, ...args);
      assert.equal(r.code, exitCodes.failed, args.join(" "));
      assert.match(r.err, message);
    }
  });

  it("works as a tenant in its own atespace by default, and is refused the rest", async () => {
    assert.equal(
      (await as(tenant, "create", "actor", "mine", "-t", "counter")).out,
      "actor/mine created\n",
    );
    const mine = await as(tenant, "get", "actors");
    assert.match(mine.out, /^a\s+default\s+counter\s+mine\s+SUSPENDED/m);
    assert.match(
      (await as(tenant, "resume", "actor", "mine")).out,
      /actor\/mine resumed on worker/,
    );
    assert.equal((await as(tenant, "suspend", "actor", "mine")).code, 0);
    assert.doesNotMatch((await as(tenant, "get", "actors", "-A")).out, /theirs/);
    // Another atespace's listing is empty, as if it had no actors (and still a valid answer).
    const otherList = await as(tenant, "get", "actors", "-a", "b", "-o", "json");
    assert.equal(otherList.code, 0, otherList.err);
    assert.doesNotMatch(otherList.out, /theirs/);
    const theirs = await as(tenant, "get", "actor", "theirs", "-a", "b");
    assert.equal(theirs.err, "Error: actor b/theirs not found");
    assert.equal((await as(tenant, "logs", "actor", "mine")).code, 0);
    assert.equal((await as(tenant, "get", "actortemplates")).code, 0);

    for (const args of [
      ["get", "workers"],
      ["get", "sandboxconfigs"],
      ["get", "tokens"],
      ["create", "atespace", "c"],
      ["create", "token", "x", "--atespace", "a"],
    ]) {
      const r = await as(tenant, ...args);
      assert.equal(r.code, exitCodes.failed, args.join(" "));
      assert.match(
        r.err,
        /^Error: token "t" \(tenant of atespace a\) may not .*needs an admin token/,
      );
    }
    const file = join(dir, "evil.yaml");
    writeFileSync(file, stringify(sandboxConfig("evil")));
    const apply = await as(tenant, "apply", "-f", file);
    assert.equal(apply.code, exitCodes.failed);
    assert.match(apply.err, /may not get sandboxconfigs: tenants may only read actortemplates/);
    assert.equal((await as(tenant, "delete", "actor", "mine")).out, "actor/mine deleted\n");
  });

  it("creates node and router tokens (one role each) that may do only their component's work", async () => {
    const node = await as(api.adminToken, "create", "token", "n1", "--node");
    assert.equal(node.code, 0, node.err);
    assert.match(node.out, /^ate_n1_[0-9a-f]{64}\n$/);
    assert.match(node.err, /^token\/n1 created \(node\): it is shown only now/);
    const router = await as(api.adminToken, "create", "token", "r1", "--router", "--ttl", "1h");
    assert.equal(router.code, 0, router.err);
    assert.match(router.err, /^token\/r1 created \(router, expires \S+\)/);
    const table = (await as(api.adminToken, "get", "tokens")).out;
    assert.match(table, /^n1\s+node\s+<none>\s+\d+s\s+never\n/m);
    assert.match(table, /^r1\s+router\s+<all>\s+\d+s\s+in 59m\n/m);
    const json = JSON.parse((await as(api.adminToken, "get", "token", "n1", "-o", "json")).out);
    assert.equal(json.role, "ROLE_NODE");
    assert.ok(!json.atespace, "a node token has no atespace");

    for (const [args, message] of [
      [["create", "token", "u", "--node", "--router"], /not --node and --router/],
      [["create", "token", "u", "--node", "--atespace", "a"], /not --atespace and --node/],
      [["create", "token", "u", "--router", "--admin"], /not --admin and --router/],
      [
        ["create", "actor", "u", "--node"],
        /--ttl, --admin, --node and --router are for ate create token/,
      ],
    ] as const) {
      const r = await as(api.adminToken, ...args);
      assert.equal(r.code, exitCodes.failed, args.join(" "));
      assert.match(r.err, message);
    }

    const nodeToken = node.out.trim();
    const routerToken = router.out.trim();
    for (const [token, args, message] of [
      [
        nodeToken,
        ["get", "actors", "-a", "b"],
        /^Error: node token "n1" may not call ateapi\.Control\/ListActors: a node token may only register/,
      ],
      [nodeToken, ["get", "actortemplates"], /^Error: node token "n1" may not list actortemplates/],
      [
        nodeToken,
        ["create", "token", "x", "--node"],
        /^Error: node token "n1" may not call ateapi\.Admin\/CreateToken/,
      ],
      [
        routerToken,
        ["get", "actors", "-a", "b"],
        /^Error: router token "r1" may not call ateapi\.Control\/ListActors: a router token may only get, resume and watch actors/,
      ],
      [
        routerToken,
        ["create", "actor", "y", "-a", "b", "-t", "counter"],
        /^Error: router token "r1" may not call ateapi\.Control\/CreateActor/,
      ],
      [
        routerToken,
        ["logs", "actor", "theirs", "-a", "b"],
        /^Error: router token "r1" may not read actors' logs/,
      ],
    ] as const) {
      const r = await as(token, ...args);
      assert.equal(r.code, exitCodes.failed, args.join(" "));
      assert.match(r.err, message, args.join(" "));
    }
    // A router may get an actor of any atespace, and read templates.
    assert.match((await as(routerToken, "get", "actor", "theirs", "-a", "b")).out, /theirs/);
    assert.equal((await as(routerToken, "get", "actortemplates")).code, 0);
    for (const name of ["n1", "r1"]) await as(api.adminToken, "delete", "token", name);
  });

  it("revokes a token at once, and says in one line how to get a valid one", async () => {
    assert.equal((await as(api.adminToken, "delete", "token", "t")).out, "token/t deleted\n");
    const refused = await as(tenant, "get", "actors", "-a", "a");
    assert.equal(refused.code, exitCodes.failed);
    assert.equal(refused.err.split("\n").length, 1);
    assert.match(
      refused.err,
      /^Error: no valid token for the ate API at http:\S+ \(the token from --token was refused: the bearer token is not valid \(unknown, revoked or wrong secret\)\): run ate as the user that ran ate up .*, or pass --token \/ ATE_TOKEN$/,
    );
    const none = await run("--server", api.url, "get", "actors");
    assert.match(none.err, /\(no token was sent: this API needs a token/);
  });

  it("takes the token from --token, else ATE_TOKEN, else the config file (for its own server only)", async () => {
    const config = join(dir, "config.yaml");
    process.env.ATE_CONFIG = config;
    try {
      writeFileSync(config, `server: ${api.url}\ntoken: ${api.adminToken}\n`);
      assert.equal((await run("get", "atespaces")).code, 0, "server and token from the config");
      // Another server named: the config's token is not sent to it.
      const elsewhere = await run(
        "--server",
        api.url.replace("127.0.0.1", "localhost"),
        "get",
        "atespaces",
      );
      assert.match(elsewhere.err, /no token was sent/);
      process.env.ATE_TOKEN = "ate_bogus_".padEnd(74, "0");
      assert.match((await run("get", "atespaces")).err, /the token from ATE_TOKEN was refused/);
      assert.equal((await run("--token", api.adminToken, "get", "atespaces")).code, 0);
    } finally {
      delete process.env.ATE_TOKEN;
      process.env.ATE_CONFIG = join(dir, "none.yaml");
    }
  });
});
