import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { cachedAtespace, rememberAtespace } from "./atespace-cache.ts";

describe("the CLI's cache of a token's atespace", () => {
  const saved = process.env.XDG_CACHE_HOME;
  const dir = mkdtempSync(join(tmpdir(), "ate-atespace-cache-"));
  before(() => {
    process.env.XDG_CACHE_HOME = dir;
  });
  after(() => {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers for the same server and token only, and never stores the token", () => {
    assert.equal(cachedAtespace("http://a:1", "tok-1"), undefined);
    rememberAtespace("http://a:1", "tok-1", "team-a");
    assert.equal(cachedAtespace("http://a:1", "tok-1"), "team-a");
    assert.equal(cachedAtespace("http://a:1", "tok-2"), undefined);
    assert.equal(cachedAtespace("http://b:1", "tok-1"), undefined);
    const entries = join(dir, "ate", "atespaces");
    assert.equal(statSync(entries).mode & 0o777, 0o700);
    const [name] = readdirSync(entries);
    assert.ok(name && !name.includes("tok-1"));
    assert.equal(statSync(join(entries, name)).mode & 0o777, 0o600);
  });

  it("ignores an entry that is not an atespace name (the server is asked again)", () => {
    rememberAtespace("http://a:1", "tok-3", "x");
    const entries = join(dir, "ate", "atespaces");
    for (const name of readdirSync(entries)) writeFileSync(join(entries, name), "../../etc\n");
    assert.equal(cachedAtespace("http://a:1", "tok-3"), undefined);
  });
});
