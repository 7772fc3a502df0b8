#!/usr/bin/env node
// `npm start`: declares the example sandbox runtime, worker pool and actor template in the
// local store and lists them. It grows into `ate up` (the whole substrate on one machine).
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const ate = (...args) => {
  console.log(`$ ate ${args.join(" ")}`);
  const r = spawnSync(join(root, "bin", "ate"), args, { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
ate("apply", "-f", join(root, "examples"));
ate("get", "sandboxconfigs");
ate("get", "workerpools", "-o", "wide");
ate("get", "actortemplates");
