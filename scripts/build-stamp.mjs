// The built CLI's stamp (dist/stamp.json): every file the build read, with its mtime and size
// then. bin/ate runs dist/ only while each of them is unchanged; this module is what it loads
// before deciding, so it imports nothing but node:fs and node:url.
import { readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const stampName = "stamp.json";

/**
 * "fresh", "stale" or "missing": whether dist/ was built from the files there are now.
 *
 * The rule: the build records each input it bundled (its own sources, the bundled packages'
 * package.json, the build script) with mtime and size; the build is current while every one
 * of them stats the same. That is correct for edits (the file's mtime changes), for files
 * restored to an older version (inequality, not "newer than"), and for added or removed
 * source files (a file only enters the bundle through an import, so its importer changed
 * too). It costs one stat per input (≈280), not a walk of src/: with plain paths, not URLs,
 * whose parsing cost as much again as the stats (≈10 ms of a command's start, measured).
 *
 * An installed copy (inside a node_modules directory) is not checked: npm puts its sources
 * and their dist/ in place together and replaces them together, and nobody develops there;
 * a checkout, where sources are edited, always is.
 */
export function buildState(root) {
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(new URL(`dist/${stampName}`, root), "utf8"));
  } catch {
    return "missing";
  }
  if (stamp.version !== 1 || !Array.isArray(stamp.inputs)) return "stale";
  const base = fileURLToPath(root).replace(/\/?$/, "/");
  if (base.includes("/node_modules/")) return "fresh";
  for (const [path, mtimeMs, size] of stamp.inputs) {
    const st = statSync(base + path, { throwIfNoEntry: false });
    if (!st || st.mtimeMs !== mtimeMs || st.size !== size) return "stale";
  }
  return "fresh";
}

/** The stamp for `paths` (relative to root), taken after a build that started at `startMs`. */
export function makeStamp(root, paths, startMs) {
  const inputs = paths.sort().map((path) => {
    const st = statSync(new URL(path, root));
    // Changed while the build read it: the bundle may hold the old text, so never current
    // (the margin covers the file system's coarse clock).
    return [path, st.mtimeMs >= startMs - 20 ? -1 : st.mtimeMs, st.size];
  });
  return { version: 1, inputs };
}
