// kubectl against ate's API server (issue 14 point 8): the real kubectl, Debian's 1.20 (what CI
// has) and a newer one when this machine has it, pointed at a real API server by the
// kubeconfig `ate kubeconfig` writes. Discovery, OpenAPI validation, Tables, watch, dry-run,
// apply (create, then a patch), delete, and a tenant's token seeing only what the API lets it.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { WorkerPoolType } from "../src/api/v1alpha1/index.ts";
import { kubeconfigFor } from "../src/cli/commands/kubeconfig.ts";
import { ControlPlane, StaticNodeDirectory } from "../src/controlplane/index.ts";
import { Records, SqliteRecordStore } from "../src/records/index.ts";
import { SqliteResourceStore } from "../src/resources/index.ts";
import { startTestApi, type TestApi } from "./support/api-server.ts";
import { runCliCaptured } from "./support/cli.ts";
import { findKubectls, type Kubectl, runKubectl, startKubectl } from "./support/kubectl.ts";
import { startTlsProxy } from "./support/tls-proxy.ts";

const digest = `sha256:${"b".repeat(64)}`;

/** A namespace, a Secret, a WorkerPool and an ActorTemplate in it, as one file. */
function manifest(ns: string, replicas: number): string {
  return `apiVersion: v1
kind: Namespace
metadata:
  name: ${ns}
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: ${ns}
stringData:
  key: value
---
apiVersion: ate.dev/v1alpha1
kind: WorkerPool
metadata:
  name: pool
  namespace: ${ns}
spec:
  replicas: ${replicas}
  ateomImage: ate/worker:1
---
apiVersion: ate.dev/v1alpha1
kind: ActorTemplate
metadata:
  name: counter
  namespace: ${ns}
spec:
  pauseImage: registry.local/pause@${digest}
  containers:
  - name: main
    image: registry.local/app@${digest}
  snapshotsConfig:
    location: file:///var/lib/ate/snapshots
`;
}

const kubectls = await findKubectls();

describe("kubectl against ate", () => {
  const resources = new SqliteResourceStore({ path: ":memory:", watchPollMs: 10 });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const cp = new ControlPlane({ records, resources, nodes: new StaticNodeDirectory({}) });
  const dir = mkdtempSync(join(tmpdir(), "ate-kubectl-"));
  const env = { KUBECONFIG: join(dir, "admin.kubeconfig"), HOME: dir };
  const tenantEnv = { KUBECONFIG: join(dir, "tenant.kubeconfig"), HOME: dir };
  let api: TestApi;

  before(async () => {
    api = await startTestApi({ controlPlane: cp, resources });
    const admin = await runCliCaptured([
      ...["--server", api.url, "--token", api.adminToken],
      ...["kubeconfig", "-o", env.KUBECONFIG],
    ]);
    assert.equal(admin.code, 0, admin.err);
    await cp.createAtespace("team");
    const tenant = await api.tenantToken("kubectl-tenant", "team");
    const t = await runCliCaptured([
      ...["--server", api.url, "--token", tenant],
      ...["kubeconfig", "--context", "tenant", "-o", tenantEnv.KUBECONFIG],
    ]);
    assert.equal(t.code, 0, t.err);
  });
  after(async () => {
    await api.close();
    await resources.close();
    await records.store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("ate kubeconfig writes the server and token, readable by its owner only", () => {
    assert.equal(statSync(env.KUBECONFIG).mode & 0o777, 0o600);
    const text = readFileSync(env.KUBECONFIG, "utf8");
    assert.match(text, /current-context: ate/);
    // Plain http: the token rides as the URL's password (kubectl sends no token without TLS).
    assert.ok(text.includes(`:${api.adminToken}@127.0.0.1`), text);
  });

  it("ate kubeconfig gives an https server the token and its CA, as kubectl expects", () => {
    const pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    const config = kubeconfigFor({
      server: "https://ate.example:7443",
      token: "ate_t_s",
      context: "c",
      namespace: "n",
      caPem: pem,
    }) as { clusters: { cluster: Record<string, string> }[]; users: { user: unknown }[] };
    assert.deepEqual(config.clusters[0]?.cluster, {
      server: "https://ate.example:7443",
      "certificate-authority-data": Buffer.from(pem).toString("base64"),
    });
    assert.deepEqual(config.users[0]?.user, { token: "ate_t_s" });
  });

  for (const k of kubectls) describeKubectl(k);

  function describeKubectl(k: Kubectl) {
    const ns = `ns-${k.version.replace(/[^0-9]/g, "")}`;
    const file = join(dir, `${ns}.yaml`);
    const kubectl = (...args: string[]) => runKubectl(k, env, args);

    it(`${k.version}: api-resources lists ate's kinds with their short names`, async () => {
      const r = await kubectl("api-resources");
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /^workerpools +workerpool +ate\.dev\/v1alpha1 +true +WorkerPool$/m);
      assert.match(
        r.out,
        /^sandboxconfigs +sandboxconfig +ate\.dev\/v1alpha1 +false +SandboxConfig$/m,
      );
      assert.match(r.out, /^secrets +v1 +true +Secret$/m);
      assert.match(r.out, /^namespaces +ns +v1 +false +Namespace$/m);
    });

    it(`${k.version}: apply -f creates, a second apply leaves ate's kinds unchanged`, async () => {
      writeFileSync(file, manifest(ns, 2));
      const first = await kubectl("apply", "-f", file);
      assert.equal(first.code, 0, first.err);
      assert.deepEqual(first.out.trim().split("\n"), [
        `namespace/${ns} created`,
        "secret/creds created",
        "workerpool.ate.dev/pool created",
        "actortemplate.ate.dev/counter created",
      ]);
      const again = await kubectl("apply", "-f", file);
      assert.equal(again.code, 0, again.err);
      assert.match(again.out, /^workerpool\.ate\.dev\/pool unchanged$/m);
      assert.match(again.out, /^actortemplate\.ate\.dev\/counter unchanged$/m);
      const stored = await resources.get(WorkerPoolType, ns, "pool");
      assert.ok(
        stored.metadata.annotations?.["kubectl.kubernetes.io/last-applied-configuration"],
        "client-side apply keeps its annotation",
      );
    });

    it(`${k.version}: get -A -o wide prints the printer columns, priority 1 only when wide`, async () => {
      const wide = await kubectl("get", "workerpools", "-A", "-o", "wide");
      assert.equal(wide.code, 0, wide.err);
      assert.match(wide.out, /^NAMESPACE +NAME +DESIRED +REPLICAS +CLASS +SANDBOXCONFIG +AGE$/m);
      assert.match(wide.out, new RegExp(`^${ns} +pool +2 +gvisor +\\d+s$`, "m"));
      const narrow = await kubectl("get", "workerpool", "-n", ns);
      assert.match(narrow.out, /^NAME +DESIRED +REPLICAS +AGE$/m);
      const one = await kubectl("get", "secret", "creds", "-n", ns);
      assert.match(one.out, /^creds +Opaque +1 +\d+s$/m);
      // The category every ate.dev kind is in.
      const ate = await kubectl("get", "ate", "-n", ns, "-o", "name");
      assert.deepEqual(ate.out.trim().split("\n").sort(), [
        "actortemplate.ate.dev/counter",
        "workerpool.ate.dev/pool",
      ]);
    });

    it(`${k.version}: apply validates against the OpenAPI schema, naming the field`, async () => {
      const bad = join(dir, `${ns}-bad.yaml`);
      writeFileSync(
        bad,
        `apiVersion: ate.dev/v1alpha1\nkind: WorkerPool\nmetadata: {name: bad, namespace: ${ns}}\nspec: {replicas: "two", ateomImage: x, colour: red}\n`,
      );
      const client = await kubectl("apply", "-f", bad);
      assert.notEqual(client.code, 0);
      assert.match(client.err, /unknown field "colour"/);
      assert.match(client.err, /WorkerPool\.spec\.replicas: got "string", expected "integer"/);
      writeFileSync(
        bad,
        `apiVersion: ate.dev/v1alpha1\nkind: WorkerPool\nmetadata: {name: bad, namespace: ${ns}}\nspec: {replicas: -1, ateomImage: x}\n`,
      );
      const server = await kubectl("apply", "-f", bad);
      assert.notEqual(server.code, 0);
      assert.match(
        server.err,
        /The WorkerPool "bad" is invalid: spec\.replicas: Invalid value: -1/,
      );
    });

    it(`${k.version}: --dry-run=server changes nothing; apply patches; get -w sees it`, async () => {
      const watch = startKubectl(k, env, ["get", "workerpools", "-n", ns, "-w"]);
      try {
        await watch.waitFor(/^pool +2 /m);
        writeFileSync(file, manifest(ns, 3));
        const dry = await kubectl("apply", "--dry-run=server", "-f", file);
        assert.equal(dry.code, 0, dry.err);
        assert.match(dry.out, /workerpool\.ate\.dev\/pool configured \(server dry run\)/);
        assert.equal((await resources.get(WorkerPoolType, ns, "pool")).spec.replicas, 2);
        const apply = await kubectl("apply", "-f", file);
        assert.equal(apply.code, 0, apply.err);
        assert.match(apply.out, /^workerpool\.ate\.dev\/pool configured$/m);
        assert.equal((await resources.get(WorkerPoolType, ns, "pool")).spec.replicas, 3);
        await watch.waitFor(/^pool +3 /m);
      } finally {
        await watch.stop();
      }
    });

    it(`${k.version}: delete removes (a server dry run does not); server-side apply is refused`, async () => {
      const ssa = await kubectl("apply", "--server-side", "-f", file);
      assert.notEqual(ssa.code, 0);
      assert.match(ssa.err, /server-side apply is not supported by ate/);
      const dry = await kubectl("delete", "--dry-run=server", "workerpool", "pool", "-n", ns);
      assert.equal(dry.code, 0, dry.err);
      await resources.get(WorkerPoolType, ns, "pool");
      const del = await kubectl("delete", "workerpool", "pool", "-n", ns);
      assert.equal(del.code, 0, del.err);
      assert.match(del.out, /workerpool\.ate\.dev "pool" deleted/);
      const gone = await kubectl("get", "workerpool", "pool", "-n", ns);
      assert.notEqual(gone.code, 0);
      assert.match(gone.err, /NotFound/);
      const rest = await kubectl("delete", "-f", file, "--ignore-not-found");
      assert.equal(rest.code, 0, rest.err);
    });

    it(`${k.version}: behind a TLS proxy the kubeconfig's CA and token are used`, async () => {
      const proxy = await startTlsProxy(api.url);
      try {
        const tls = { KUBECONFIG: join(dir, `${ns}-tls.kubeconfig`), HOME: dir };
        const made = await runCliCaptured([
          ...["--server", proxy.url, "--token", api.adminToken],
          ...["kubeconfig", "--certificate-authority", proxy.caFile, "-o", tls.KUBECONFIG],
        ]);
        assert.equal(made.code, 0, made.err);
        const r = await runKubectl(k, tls, ["get", "workerpools", "-A"]);
        assert.equal(r.code, 0, r.err);
        assert.ok(
          proxy.schemes.length > 0 && proxy.schemes.every((s) => s === "Bearer"),
          proxy.schemes.join(),
        );
      } finally {
        await proxy.close();
      }
    });

    it(`${k.version}: a tenant's token reads ActorTemplates and nothing else`, async () => {
      const as = (...args: string[]) => runKubectl(k, tenantEnv, args);
      writeFileSync(file, manifest(`${ns}-t`, 1));
      assert.equal((await kubectl("apply", "-f", file)).code, 0);
      const templates = await as("get", "actortemplates", "-A");
      assert.equal(templates.code, 0, templates.err);
      assert.match(templates.out, new RegExp(`^${ns}-t +counter +gvisor`, "m"));
      for (const kind of ["workerpools", "secrets"]) {
        const r = await as("get", kind, "-A");
        assert.notEqual(r.code, 0);
        assert.match(r.err, /Forbidden/);
      }
      const write = await as("delete", "actortemplate", "counter", "-n", `${ns}-t`);
      assert.notEqual(write.code, 0);
      assert.match(write.err, /Forbidden/);
      // The namespace goes first and takes its objects with it: the rest are already gone.
      const del = await kubectl("delete", "-f", file, "--ignore-not-found");
      assert.equal(del.code, 0, del.err);
    });
  }
});

/**
 * The anchor's manifests (test/fixtures/anchor): each file applies whole with kubectl, its RBAC
 * documents accepted and not stored, wherever `ate apply` takes it; a file ate itself still
 * refuses is skipped, naming why, so the test tightens as ate's schemas grow.
 */
describe("kubectl applies the anchor's manifests", async () => {
  const fixtures = new URL("./fixtures/anchor/", import.meta.url).pathname;
  let files: string[] = [];
  try {
    files = readdirSync(fixtures).filter((f) => /\.ya?ml$/.test(f));
  } catch {}
  const resources = new SqliteResourceStore({ path: ":memory:", watchPollMs: 10 });
  const records = new Records(new SqliteRecordStore(":memory:"));
  const cp = new ControlPlane({ records, resources, nodes: new StaticNodeDirectory({}) });
  const dir = mkdtempSync(join(tmpdir(), "ate-kubectl-anchor-"));
  const env = { KUBECONFIG: join(dir, "kubeconfig"), HOME: dir };
  const api = await startTestApi({ controlPlane: cp, resources });
  const ate = (...args: string[]) =>
    runCliCaptured(["--server", api.url, "--token", api.adminToken, ...args]);
  assert.equal((await ate("kubeconfig", "-o", env.KUBECONFIG)).code, 0);
  after(async () => {
    await api.close();
    await resources.close();
    await records.store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const file of files) {
    const path = join(fixtures, file);
    const byAte = await ate("apply", "--dry-run", "-f", path);
    const skip = byAte.code !== 0 && `ate apply refuses it too: ${byAte.err.split("\n")[0]}`;
    for (const k of kubectls)
      it(`${k.version}: ${file}`, { skip }, async () => {
        const r = await runKubectl(k, env, ["apply", "-f", path]);
        assert.equal(r.code, 0, r.err);
        if (readFileSync(path, "utf8").includes("rbac.authorization.k8s.io/"))
          assert.match(r.err, /Warning: ate stores no Kubernetes RBAC/);
        const del = await runKubectl(k, env, ["delete", "-f", path, "--ignore-not-found"]);
        assert.equal(del.code, 0, del.err);
      });
  }
});
