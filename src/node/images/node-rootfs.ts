import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * Builds a minimal root filesystem that runs a Node.js app: this machine's node binary, the
 * shared libraries it links (from ldd), and the app's files under /app. Tests and demos pack
 * it into an OCI image, since there is no internet to pull a base image from.
 */
export function buildNodeRootfs(
  out: string,
  app: { files: Record<string, string> } | { dir: string },
): void {
  const node = realpathSync(process.execPath);
  const libs = execFileSync("ldd", [node], { encoding: "utf8" })
    .split("\n")
    .map((l) => l.match(/(\/\S+)\s+\(0x/)?.[1])
    .filter((p): p is string => !!p);
  for (const dir of ["usr/bin", "app", "tmp", "proc", "dev", "sys", "etc", "run", "data"])
    mkdirSync(join(out, dir), { recursive: true });
  cpSync(node, join(out, "usr/bin/node"));
  for (const lib of libs) {
    const target = join(out, lib);
    mkdirSync(dirname(target), { recursive: true });
    cpSync(realpathSync(lib), target);
  }
  if ("dir" in app) cpSync(app.dir, join(out, "app"), { recursive: true });
  else
    for (const [name, text] of Object.entries(app.files))
      writeFileSync(join(out, "app", name), text);
}
