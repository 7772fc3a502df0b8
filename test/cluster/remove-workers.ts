// Run inside a node host's network namespace (see node-sweep.ts): removes the workers a node
// agent left in its state directory, as a restarted agent would.
//   node --import tsx test/cluster/remove-workers.ts '{"dir":…,"prefix":…,"subnetBase":…}'
import { removeLeftoverWorkers } from "../support/leftover-workers.ts";

const o = JSON.parse(process.argv[2] ?? "{}") as {
  dir?: string;
  prefix?: string;
  subnetBase?: number;
};
if (!o.dir || !o.prefix || !Number.isInteger(o.subnetBase)) {
  console.error('usage: remove-workers.ts \'{"dir":…,"prefix":…,"subnetBase":…}\'');
  process.exit(2);
}
await removeLeftoverWorkers(o.dir, { prefix: o.prefix, subnetBase: o.subnetBase as number });
