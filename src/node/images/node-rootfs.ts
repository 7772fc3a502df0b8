import { execFileSync } from "node:child_process";
import { accessSync, constants, cpSync, mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { AteError, Code } from "../../errors/index.ts";

/**
 * Builds a minimal root filesystem that runs a Node.js app: this machine's node binary, the
 * shared libraries it links (from ldd), and the app's files under /app. Tests and demos pack
 * it into an OCI image, since there is no internet to pull a base image from. `programs`
 * adds host programs (a name on PATH, or an absolute path) as /usr/bin/<name>, with the
 * libraries they link: an app that spawns `sh` or `ls` needs them in its image.
 */
export function buildNodeRootfs(
  out: string,
  app: { files: Record<string, string> } | { dir: string },
  programs: string[] = [],
): void {
  // Every program found first: a missing one is refused before anything is copied.
  const found = programs.map((p) => ({ path: findProgram(p), name: p.split("/").pop() as string }));
  for (const dir of ["usr/bin", "app", "tmp", "proc", "dev", "sys", "etc", "run", "data"])
    mkdirSync(join(out, dir), { recursive: true });
  copyWithLibraries(out, realpathSync(process.execPath), "node");
  for (const { path, name } of found) copyWithLibraries(out, path, name);
  if ("dir" in app) cpSync(app.dir, join(out, "app"), { recursive: true });
  else
    for (const [name, text] of Object.entries(app.files))
      writeFileSync(join(out, "app", name), text);
}

/** `binary` as /usr/bin/<name>, and every library it links at its own path. */
function copyWithLibraries(out: string, binary: string, name: string): void {
  cpSync(realpathSync(binary), join(out, "usr/bin", name));
  let listing = "";
  try {
    listing = execFileSync("ldd", [binary], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch {
    return; // "not a dynamic executable": a static program needs no libraries
  }
  for (const lib of listing.split("\n").map((l) => l.match(/(\/\S+)\s+\(0x/)?.[1])) {
    if (!lib) continue;
    const target = join(out, lib);
    mkdirSync(dirname(target), { recursive: true });
    cpSync(realpathSync(lib), target);
  }
}

/** A program's path on this machine: as given when absolute, else the first on PATH. */
function findProgram(program: string): string {
  const candidates = isAbsolute(program)
    ? [program]
    : program.includes("/")
      ? []
      : (process.env.PATH ?? "/usr/bin:/bin").split(":").map((d) => join(d, program));
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {}
  }
  throw new AteError(
    Code.InvalidArgument,
    `program ${JSON.stringify(program)}: no executable of that name on this machine's PATH (give a name on PATH or an absolute path)`,
  );
}
