import { basename } from "node:path";
import { runCli } from "./main.ts";

// Installed as `kubectl-ate`, it is the kubectl plugin `kubectl ate`.
const name = basename(process.argv[1] ?? "ate") === "kubectl-ate" ? "kubectl ate" : "ate";
process.exitCode = await runCli(process.argv.slice(2), undefined, name);
