import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { SqliteRecordStore } from "../records/index.ts";
import {
  adminTokenNameFor,
  ensureAdminCredential,
  writeAdminClientConfig,
} from "./admin-credential.ts";
import { TokenStore } from "./token-store.ts";

const dir = mkdtempSync(join(tmpdir(), "ate-credential-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const mode = (path: string) => statSync(path).mode & 0o777;

describe("the local admin credential", () => {
  const store = new SqliteRecordStore(":memory:");
  const tokens = new TokenStore(store);
  after(() => store.close());

  it("is made on first start (0600 in the state dir), kept while valid, renewed when not", async () => {
    const state = join(dir, "state");
    const first = await ensureAdminCredential({ stateDir: state, tokens });
    assert.equal(first.outcome, "created");
    assert.equal(first.path, join(state, "admin.token"));
    assert.equal(mode(first.path), 0o600);
    assert.equal(readFileSync(first.path, "utf8"), `${first.token}\n`);
    assert.equal((await tokens.authenticate(`Bearer ${first.token}`)).role, "admin");

    const again = await ensureAdminCredential({ stateDir: state, tokens });
    assert.deepEqual(again, { ...first, outcome: "kept" });

    await tokens.delete("admin"); // revoked: the next start makes a new one
    const renewed = await ensureAdminCredential({ stateDir: state, tokens });
    assert.equal(renewed.outcome, "created");
    assert.notEqual(renewed.token, first.token);
    assert.equal(mode(renewed.path), 0o600);

    writeFileSync(renewed.path, "not a token\n"); // damaged: replaced, and the old record too
    const replaced = await ensureAdminCredential({ stateDir: state, tokens });
    assert.equal(replaced.outcome, "created");
    await assert.rejects(tokens.authenticate(`Bearer ${renewed.token}`));
    assert.deepEqual(
      (await tokens.list()).map((t) => t.name),
      ["admin"],
    );
  });

  it("of two control planes sharing records: each keeps its own, neither revokes the other's", async () => {
    const [one, two] = ["cp-one", "cp-two"].map((d) => join(dir, d));
    for (const d of [one, two] as string[]) mkdirSync(d);
    const name = (d: string) => adminTokenNameFor("host", d);
    assert.notEqual(name(one as string), name(two as string));
    assert.match(name(one as string), /^admin-[0-9a-f]{8}$/);
    const first = await ensureAdminCredential({
      stateDir: one as string,
      tokens,
      name: name(one as string),
    });
    const second = await ensureAdminCredential({
      stateDir: two as string,
      tokens,
      name: name(two as string),
    });
    for (const c of [first, second]) {
      assert.equal(c.outcome, "created");
      assert.equal((await tokens.authenticate(`Bearer ${c.token}`)).role, "admin");
    }
    // A restart of the first keeps its token.
    const again = await ensureAdminCredential({
      stateDir: one as string,
      tokens,
      name: name(one as string),
    });
    assert.deepEqual([again.outcome, again.token], ["kept", first.token]);
  });

  it("goes into the CLI's config (0600), keeping what else is there", async () => {
    const credential = await ensureAdminCredential({ stateDir: join(dir, "s2"), tokens });
    const config = join(dir, "home", ".config", "ate", "config.yaml");
    assert.deepEqual(writeAdminClientConfig(config, "http://127.0.0.1:7443", credential), {
      written: true,
    });
    assert.equal(mode(config), 0o600);
    assert.equal(mode(join(dir, "home", ".config", "ate")), 0o700);
    assert.equal(
      readFileSync(config, "utf8"),
      `server: http://127.0.0.1:7443\ntoken: ${credential.token}\n`,
    );
    writeFileSync(config, "# mine\nserver: http://old:1 # was here\ntoken: old\n", { mode: 0o644 });
    writeAdminClientConfig(config, "http://127.0.0.1:9", credential);
    assert.equal(
      readFileSync(config, "utf8"),
      `# mine\nserver: http://127.0.0.1:9 # was here\ntoken: ${credential.token}\n`,
    );
    assert.equal(mode(config), 0o600);

    writeFileSync(config, "- a list\n");
    const refused = writeAdminClientConfig(config, "http://127.0.0.1:9", credential);
    assert.equal(refused.written, false);
    assert.match(
      (refused as { problem: string }).problem,
      new RegExp(`config file ${config} is not a YAML mapping`),
    );
    assert.equal(readFileSync(config, "utf8"), "- a list\n", "left alone");
  });

  it("never follows a symlink, opens a FIFO or takes over another user's file", async (t) => {
    const credential = await ensureAdminCredential({ stateDir: join(dir, "s3"), tokens });
    const home = join(dir, "hostile");
    mkdirSync(home);
    // Someone else's file, where the config should be: neither read nor replaced.
    const victim = join(dir, "victim.yaml");
    writeFileSync(victim, "secret_key: hunter2\n", { mode: 0o600 });
    const link = join(home, "config.yaml");
    symlinkSync(victim, link);
    const linked = writeAdminClientConfig(link, "http://127.0.0.1:9", credential);
    assert.equal(linked.written, false);
    assert.match(
      (linked as { problem: string }).problem,
      /is a symbolic link, which is not followed/,
    );
    assert.ok(lstatSync(link).isSymbolicLink(), "the link is left as it was");
    assert.equal(readFileSync(victim, "utf8"), "secret_key: hunter2\n", "its target too");

    // A FIFO would block a read forever (and ate up's start with it).
    const fifo = join(home, "fifo.yaml");
    execFileSync("mkfifo", [fifo]);
    const blocked = writeAdminClientConfig(fifo, "http://127.0.0.1:9", credential);
    assert.match((blocked as { problem: string }).problem, /is not a regular file/);

    // The state dir's token file: a link there is an error, not a file to read or replace.
    const state = join(dir, "s4");
    mkdirSync(state);
    symlinkSync(victim, join(state, "admin.token"));
    await assert.rejects(
      ensureAdminCredential({ stateDir: state, tokens }),
      /admin.token is a symbolic link/,
    );
    assert.equal(readFileSync(victim, "utf8"), "secret_key: hunter2\n");
    assert.deepEqual(
      readdirSync(home).filter((f) => f.endsWith(".tmp")),
      [],
      "no temp file left behind",
    );

    if (process.geteuid?.() !== 0) return t.skip("another user's file needs root to make");
    const theirs = join(home, "theirs.yaml");
    writeFileSync(theirs, "server: http://theirs:1\n", { mode: 0o600 });
    chownSync(theirs, 65534, 65534);
    const taken = writeAdminClientConfig(theirs, "http://127.0.0.1:9", credential);
    assert.match((taken as { problem: string }).problem, /belongs to another user \(uid 65534\)/);
    assert.equal(readFileSync(theirs, "utf8"), "server: http://theirs:1\n");
    assert.equal(statSync(theirs).uid, 65534);
  });
});
