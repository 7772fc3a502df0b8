// The JavaScript half of bin/ate and bin/kubectl-ate (shell scripts: bin/ate says why). Runs
// the CLI that `npm install` built into dist/ (scripts/build.mjs) while it is current; else
// from source through tsx (compiles TypeScript at every start: the development path).
//   node bin/launch.mjs <the shell script's $0> [ARGS...]
import { resolve } from "node:path";
import { buildState } from "../scripts/build-stamp.mjs";

// argv[1] is the command as started (…/ate or …/kubectl-ate), as with a node shebang.
process.argv.splice(1, 2, resolve(process.argv[2] ?? "ate"));
// Set when src/cli/deferred-ca.ts runs the command again: it said what there was to say.
const again = process.env.ATE_CA_AT_START !== undefined;
delete process.env.ATE_CA_AT_START;

const state = buildState(new URL("../", import.meta.url));
if (state === "fresh") await import("../dist/bin.js");
else {
  if (state === "stale" && !again)
    process.stderr.write(
      "ate: dist/ is older than its sources; running them through tsx (npm run build rebuilds it)\n",
    );
  const { register } = await import("tsx/esm/api");
  register();
  await import("../src/cli/bin.ts");
}
