import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resourceStoreContract } from "./contract.ts";
import { SqliteResourceStore } from "./sqlite-store.ts";

// Each storage is one database file; every store opened on it is another process.
resourceStoreContract("SqliteResourceStore", async (options = {}) => {
  const dir = mkdtempSync(join(tmpdir(), "ate-store-"));
  return {
    open: () => new SqliteResourceStore({ path: join(dir, "ate.db"), watchPollMs: 10, ...options }),
    dispose: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
