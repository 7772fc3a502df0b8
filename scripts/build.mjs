#!/usr/bin/env node
// Builds the CLI into dist/ (npm's `prepare` runs it on `npm install`): bin/ate then starts
// plain JavaScript instead of compiling TypeScript through tsx at every start (≈1 s). And the
// TypeScript SDK (src/sdk) into dist/sdk/, its declarations into dist/types/: the package's
// `exports` (`import { connect } from "ate"`).
//   node scripts/build.mjs   (or npm run build)
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
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
        const contents = (await prebuiltDescriptors(args.path, text)).replace(
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

/** The module the generated descriptors are built by (see prebuiltDescriptors). */
const prebuiltModule = "ate-prebuilt-desc";

/**
 * The runtime half of prebuiltDescriptors: what codegenv2's fileDesc does once it has decoded
 * the FileDescriptorProto (its dependencies named, the registry made), from the decoded
 * message the build wrote out. A message is `{ $p: i, …its own fields }`, its prototype
 * (the defaults of its unset fields, as fromBinary makes it) the i-th of `protos`.
 */
const prebuiltSource = `import { createFileRegistry } from "@bufbuild/protobuf";
function revive(v, protos) {
  if (Array.isArray(v)) return v.map((x) => revive(x, protos));
  if (v === null || typeof v !== "object") return v;
  const { $p, ...own } = v;
  const m = Object.create(protos[$p]);
  for (const k of Object.keys(own)) m[k] = revive(own[k], protos);
  return m;
}
export function prebuiltFileDesc(protos, decoded, imports) {
  const root = revive(decoded, protos);
  root.dependency = imports?.map((f) => f.proto.name) ?? [];
  const reg = createFileRegistry(root, (name) => imports?.find((f) => f.proto.name === name));
  return reg.getFile(root.name);
}
`;

/**
 * Generated *_pb.ts files describe their proto file as a serialized FileDescriptorProto,
 * decoded at module load by the protobuf runtime (fileDesc): ≈15 ms of reflection for the
 * Control API's file, after ≈15 ms spent building descriptor.proto's own descriptors to
 * decode it with, on every `ate get`. The build decodes it instead (the same fromBinary and
 * restoreJsonNames) and writes the decoded message out; at run time only the registry is
 * made (prebuiltSource). A file whose decoded form holds anything but plain values keeps
 * its fileDesc call.
 */
async function prebuiltDescriptors(path, text) {
  if (!/_pb\.[jt]s$/.test(path)) return text;
  const call = /\bfileDesc\(\s*"([A-Za-z0-9+/=]+)"\s*(,\s*(\[[^\]]*\])\s*)?,?\s*\)/;
  const m = call.exec(text);
  if (!m) return text;
  const [{ fromBinary }, { FileDescriptorProtoSchema }, { base64Decode }] = await Promise.all([
    import("@bufbuild/protobuf"),
    import("@bufbuild/protobuf/wkt"),
    import("@bufbuild/protobuf/wire"),
  ]);
  const { restoreJsonNames } = await import(
    new URL("./codegenv2/restore-json-names.js", import.meta.resolve("@bufbuild/protobuf")).href
  );
  const root = fromBinary(FileDescriptorProtoSchema, base64Decode(m[1]));
  root.messageType.forEach(restoreJsonNames);
  const protos = [];
  const plain = (v) => {
    if (Array.isArray(v)) return v.map(plain);
    if (typeof v === "string" || typeof v === "boolean") return v;
    if (typeof v === "number" && Number.isFinite(v)) return v;
    if (v === null || typeof v !== "object" || typeof v.$typeName !== "string")
      throw new Error("not a plain value");
    const proto = Object.getPrototypeOf(v);
    if (Object.getPrototypeOf(proto) !== Object.prototype) throw new Error("not a plain value");
    let i = protos.indexOf(proto);
    if (i < 0) i = protos.push(proto) - 1;
    const out = { $p: i };
    for (const k of Object.keys(v)) out[k] = plain(v[k]);
    return out;
  };
  let decoded;
  let protoLiterals;
  try {
    decoded = plain(root);
    protoLiterals = protos.map((p) => {
      const o = {};
      for (const k of Object.getOwnPropertyNames(p)) o[k] = plain(p[k]);
      return o;
    });
  } catch {
    return text;
  }
  const replacement = `prebuiltFileDesc(${JSON.stringify(protoLiterals)}, ${JSON.stringify(decoded)}${m[3] ? `, ${m[3]}` : ""})`;
  return `import { prebuiltFileDesc } from "${prebuiltModule}";\n${text.replace(m[0], () => replacement)}`;
}

/** Resolves the runtime half of prebuiltDescriptors. */
const prebuiltPlugin = {
  name: "ate-prebuilt-desc",
  setup(b) {
    b.onResolve({ filter: new RegExp(`^${prebuiltModule}$`) }, () => ({
      path: prebuiltModule,
      namespace: prebuiltModule,
    }));
    // The bundled packages' own generated files too (any.proto and struct.proto, which toJson
    // loads; Connect's status.proto): one of them left would keep descriptor.proto's.
    b.onLoad(
      { filter: /[\\/]node_modules[\\/]@(bufbuild|connectrpc)[\\/].*_pb\.js$/ },
      async (args) => {
        const { readFile } = await import("node:fs/promises");
        const text = await readFile(args.path, "utf8");
        const contents = await prebuiltDescriptors(args.path, text);
        return contents === text ? undefined : { contents, loader: "js" };
      },
    );
    b.onLoad({ filter: /.*/, namespace: prebuiltModule }, () => ({
      contents: prebuiltSource,
      loader: "js",
      resolveDir: root,
    }));
  },
};

/**
 * The SDK (src/sdk/index.ts) into `tmp`/sdk: a library, so not minified; the packages the CLI
 * bundles are bundled here too (the SDK's lazy imports become chunks beside its index.js).
 */
async function buildSdk(tmp, outdir) {
  await build({
    absWorkingDir: root,
    entryPoints: ["src/sdk/index.ts"],
    outdir: join(tmp, "sdk"),
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    keepNames: true,
    sourcemap: "linked",
    logLevel: "warning",
    banner: {
      js: 'import { createRequire as __ateRequire } from "node:module"; const require = __ateRequire(import.meta.url);',
    },
    plugins: [prebuiltPlugin, externals, sourceRelativeUrls(join(outdir, "sdk"))],
  });
}

/**
 * The SDK's declarations (src/sdk/tsconfig.json) into `tmp`/types, their relative imports
 * ending in .js as a consumer's TypeScript resolves them (to the .d.ts beside). Skipped, with
 * a warning, where TypeScript is not installed (an install without devDependencies).
 */
function buildSdkTypes(tmp) {
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  } catch {
    console.warn("ate: typescript is not installed: the SDK's declarations are not built");
    return;
  }
  const types = join(tmp, "types");
  execFileSync(
    process.execPath,
    [tsc, "-p", join(root, "src/sdk/tsconfig.json"), "--declarationDir", types],
    { stdio: "inherit" },
  );
  const fix = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) fix(path);
      else if (e.name.endsWith(".d.ts"))
        writeFileSync(
          path,
          readFileSync(path, "utf8").replace(/(from\s+["']\.{1,2}\/[^"']*)\.ts(["'])/g, "$1.js$2"),
        );
    }
  };
  fix(types);
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
      plugins: [prebuiltPlugin, externals, sourceRelativeUrls(outdir)],
    });
    const inputs = new Set([relative(root, fileURLToPath(import.meta.url))]);
    inputs.add(relative(root, fileURLToPath(new URL("./build-stamp.mjs", import.meta.url))));
    for (const path of Object.keys(result.metafile.inputs)) {
      // The virtual module of prebuiltDescriptors: part of this script, an input already.
      if (path.startsWith(`${prebuiltModule}:`)) continue;
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
    await buildSdk(tmp, outdir);
    buildSdkTypes(tmp);
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
