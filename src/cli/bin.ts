import { basename } from "node:path";
import { restartForDeferredCa } from "./deferred-ca.ts";
import { runCli } from "./main.ts";

const argv = process.argv.slice(2);
// Installed as `kubectl-ate`, it is the kubectl plugin `kubectl ate`.
const name = basename(process.argv[1] ?? "ate") === "kubectl-ate" ? "kubectl ate" : "ate";
process.exitCode =
  (await restartForDeferredCa(argv, process.argv[1] ?? "ate")) ??
  (await runCli(argv, undefined, name));
