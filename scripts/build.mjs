#!/usr/bin/env node
// Builds the CLI into dist/ (npm's `prepare` runs it on `npm install`): bin/ate then starts
// plain JavaScript instead of compiling TypeScript through tsx at every start (≈1 s).
//   node scripts/build.mjs   (or npm run build)
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import { makeStamp, stampName } from "./build-stamp.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Packages bundled into dist/: the pure-JavaScript ones every light command loads. Loading
 * them from node_modules as hundreds of small ESM files costs more than the rest of a command
 * (≈300 ms); bundled they load as one file. Every other package stays external and loads from
 * node_modules when a command needs it: native ones (better-sqlite3, esbuild) must, and the
 * heavy ones (ioredis, tar, the S3 client) load only with the commands that use them.
 */
const bundled = [
  "commander",
  "yaml",
  "@bufbuild/protobuf",
  "@connectrpc/connect",
  "@connectrpc/connect-node",
];

const packageName = (spec) =>
  spec
    .split("/")
    .slice(0, spec.startsWith("@") ? 2 : 1)
    .join("/");

/** src/ imports of packages not in `bundled` stay external; bundled packages bring their own. */
const externals = {
  name: "ate-externals",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (
        args.kind === "entry-point" ||
        args.path.startsWith("node:") ||
        args.importer.includes(`${sep}node_modules${sep}`)
      )
        return undefined;
      return bundled.includes(packageName(args.path))
        ? undefined
        : { path: args.path, external: true };
    });
  },
};

/**
 * `new URL("./file", import.meta.url)` in a source file names a file beside that source
 * (reset-connections.mjs, package.json): pointed from dist/ back at it, as it is not bundled.
 */
function sourceRelativeUrls(outdir) {
  return {
    name: "ate-source-urls",
    setup(b) {
      b.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, async (args) => {
        const { readFile } = await import("node:fs/promises");
        const text = await readFile(args.path, "utf8");
        const contents = text.replace(
          /new URL\((["'])(\.\.?\/[^"']+)\1,\s*import\.meta\.url\)/g,
          (_all, _q, rel) => {
            const target = relative(outdir, resolve(dirname(args.path), rel))
              .split(sep)
              .join("/");
            return `new URL(${JSON.stringify(target.startsWith(".") ? target : `./${target}`)}, import.meta.url)`;
          },
        );
        return { contents, loader: "ts" };
      });
    },
  };
}

/**
 * Builds the CLI into root/dist (replaced whole, so a reader never sees half a build). The
 * root is this script's repository: bin/ate looks for the build there.
 */
export async function buildCli() {
  const outdir = join(root, "dist");
  const startMs = Date.now();
  const tmp = `${outdir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    const result = await build({
      absWorkingDir: root,
      entryPoints: ["src/cli/bin.ts"],
      outdir: tmp,
      bundle: true,
      // Commands loaded lazily in src/cli/main.ts stay lazy: each is a chunk of its own.
      splitting: true,
      format: "esm",
      platform: "node",
      target: "node20",
      // Minified, names kept (errors and logs name classes): a third less for node to parse.
      minify: true,
      keepNames: true,
      sourcemap: "linked",
      metafile: true,
      logLevel: "warning",
      // Bundled CommonJS (commander) calls require() for node's own modules.
      banner: {
        js: 'import { createRequire as __ateRequire } from "node:module"; const require = __ateRequire(import.meta.url);',
      },
      plugins: [externals, sourceRelativeUrls(outdir)],
    });
    const inputs = new Set([relative(root, fileURLToPath(import.meta.url))]);
    inputs.add(relative(root, fileURLToPath(new URL("./build-stamp.mjs", import.meta.url))));
    for (const path of Object.keys(result.metafile.inputs)) {
      const parts = path.split("/");
      const nm = parts.lastIndexOf("node_modules");
      // A bundled package counts as one input, its package.json (reinstalling rewrites it).
      if (nm < 0) inputs.add(path);
      else {
        const name = packageName(parts.slice(nm + 1).join("/"));
        inputs.add(join(...parts.slice(0, nm + 1), name, "package.json"));
      }
    }
    const rootUrl = pathToFileURL(`${root}/`);
    const stamp = makeStamp(
      rootUrl,
      [...inputs].map((p) => p.split(sep).join("/")),
      startMs,
    );
    writeFileSync(join(tmp, stampName), `${JSON.stringify(stamp)}\n`);
    rmSync(outdir, { recursive: true, force: true });
    mkdirSync(dirname(outdir), { recursive: true });
    renameSync(tmp, outdir);
    return { outdir, inputs: stamp.inputs.length, ms: Date.now() - startMs };
  } finally {
    if (existsSync(tmp)) rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await buildCli();
  console.log(`ate: built ${out.outdir} (${out.inputs} inputs, ${out.ms} ms)`);
}
