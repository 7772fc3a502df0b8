import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { SqliteRecordStore } from "../records/index.ts";
import { ensureAdminCredential, writeAdminClientConfig } from "./admin-credential.ts";
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
});
