// A collector run as its own process for the crash test (src/controlplane/gc-crash.test.ts):
// ATE_GC_CRASH_AT=<step>:<n> kills it with SIGKILL the n-th time it reaches that step, the way
// a machine dying or an OOM kill would stop it: no finally, no cleanup.
import { collectGarbage } from "../../src/controlplane/gc.ts";
import { Records, SqliteRecordStore } from "../../src/records/index.ts";
import { SqliteResourceStore } from "../../src/resources/index.ts";
import { nodeOf } from "./gc-state.ts";

const [dir, withNode] = process.argv.slice(2);
const [crashAt, nth] = (process.env.ATE_GC_CRASH_AT ?? ":0").split(":");
let seen = 0;
const records = new Records(new SqliteRecordStore(`${dir}/records.db`));
const resources = new SqliteResourceStore({ path: `${dir}/ate.db` });
await collectGarbage({
  records,
  resources,
  graceMs: 0,
  ...(withNode === "--node" ? { nodes: nodeOf(dir as string) } : {}),
  step: (name) => {
    if (name === crashAt && ++seen === Number(nth)) process.kill(process.pid, "SIGKILL");
  },
});
await records.store.close();
await resources.close();
