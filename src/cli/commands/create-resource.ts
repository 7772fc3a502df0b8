// `ate create namespace NAME` and `ate create secret generic NAME --from-literal k=v
// --from-file [key=]path`, with kubectl's flags and errors. Loaded only by those commands.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import type { Resource, ResourceType } from "../../api/schema/index.ts";
import {
  isConfigMapKey,
  maxSecretBytes,
  NamespaceType,
  type Secret,
  SecretType,
} from "../../api/v1/index.ts";
import { AteError, Code } from "../../errors/index.ts";
import type { CliContext } from "../context.ts";
import { formatObjects, parseOutputFormat, qualifiedName } from "../printers.ts";

export interface CreateResourceOptions {
  namespace?: string;
  fromLiteral?: string[];
  fromFile?: string[];
  type?: string;
  dryRun?: string | boolean;
  output?: string;
}

type DryRun = "none" | "client" | "server";

function parseDryRun(value: string | boolean | undefined): DryRun {
  if (value === undefined || value === false || value === "none") return "none";
  if (value === true) return "client";
  if (value === "client" || value === "server") return value;
  throw new AteError(
    Code.InvalidArgument,
    `--dry-run must be "none", "server", or "client", not "${value}"`,
  );
}

const secretOnly = (o: CreateResourceOptions) =>
  (o.fromLiteral?.length ?? 0) > 0 || (o.fromFile?.length ?? 0) > 0 || o.type !== undefined;

export async function createNamespace(
  ctx: CliContext,
  name: string,
  rest: string[],
  opts: CreateResourceOptions,
): Promise<void> {
  if (rest.length)
    throw new AteError(Code.InvalidArgument, "exactly one NAME is required, got more");
  if (secretOnly(opts))
    throw new AteError(
      Code.InvalidArgument,
      "--from-literal, --from-file and --type are for ate create secret generic",
    );
  const object: Resource = { apiVersion: "v1", kind: "Namespace", metadata: { name }, spec: {} };
  await createOne(ctx, NamespaceType as ResourceType, object, opts);
}

/** `ate create secret generic NAME ...`: `args` is [generic, NAME]. */
export async function createSecret(
  ctx: CliContext,
  args: string[],
  opts: CreateResourceOptions,
): Promise<void> {
  const [subtype, name, ...extra] = args;
  if (subtype !== "generic")
    throw new AteError(
      Code.InvalidArgument,
      `ate create secret ${subtype ?? ""}: only "generic" secrets are created here (ate create secret generic NAME --from-literal key=value); apply a manifest for other types`,
    );
  if (!name || extra.length)
    throw new AteError(
      Code.InvalidArgument,
      `exactly one NAME is required, got ${name ? "more" : "none"}`,
    );
  const secret = buildSecret(name, opts);
  await createOne(ctx, SecretType, secret as unknown as Resource, opts);
}

/**
 * The Secret kubectl's `create secret generic` builds: each literal and file one key of
 * `data`; a key given twice, a key that is not a valid config key, a file over the size limit
 * are refused. No error shows a value.
 */
export function buildSecret(name: string, opts: CreateResourceOptions): Secret {
  const data: Record<string, string> = {};
  const add = (key: string, value: Buffer) => {
    const errs = isConfigMapKey(key);
    if (errs.length)
      throw new AteError(
        Code.InvalidArgument,
        `${JSON.stringify(key)} is not valid key name for a Secret ${errs.join(";")}`,
      );
    if (Object.hasOwn(data, key))
      throw new AteError(
        Code.InvalidArgument,
        `cannot add key ${key}, another key by that name already exists in Data for Secret ${JSON.stringify(name)}`,
      );
    data[key] = value.toString("base64");
  };
  (opts.fromLiteral ?? []).forEach((source, i) => {
    const at = source.indexOf("=");
    // kubectl echoes the source here; it may be a value typed without its key, so not ate.
    if (at <= 0)
      throw new AteError(
        Code.InvalidArgument,
        `invalid literal source (--from-literal number ${i + 1}), expected key=value`,
      );
    add(source.slice(0, at), Buffer.from(source.slice(at + 1), "utf8"));
  });
  for (const source of opts.fromFile ?? []) {
    const at = source.indexOf("=");
    const [key, path] = at > 0 ? [source.slice(0, at), source.slice(at + 1)] : [undefined, source];
    if (at === 0 || path === "")
      throw new AteError(
        Code.InvalidArgument,
        `key names or file paths cannot be empty: --from-file ${JSON.stringify(source)}`,
      );
    for (const [k, file] of filesOf(path, key)) add(k, readLimited(file));
  }
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace: opts.namespace ?? "default" },
    ...(opts.type !== undefined ? { type: opts.type } : {}),
    data,
  };
}

/** A file as [basename-or-key, path]; a directory as each regular file in it (not recursive). */
function filesOf(path: string, key: string | undefined): [string, string][] {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    throw new AteError(Code.NotFound, `error reading ${path}: no such file or directory`);
  }
  if (!isDir) return [[key ?? basename(path), path]];
  if (key !== undefined)
    throw new AteError(Code.InvalidArgument, "cannot give a key name for a directory path");
  return readdirSync(path, { withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => [e.name, join(path, e.name)] as [string, string])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Reads a file, refusing one larger than a Secret may hold before reading it. */
function readLimited(path: string): Buffer {
  const { size } = statSync(path);
  if (size > maxSecretBytes)
    throw new AteError(
      Code.InvalidArgument,
      `${path} is ${size} bytes: a Secret's values may total at most ${maxSecretBytes} bytes`,
    );
  return readFileSync(path);
}

/** Creates (or dry-runs) one object and prints it as kubectl does. */
async function createOne(
  ctx: CliContext,
  type: ResourceType,
  object: Resource,
  opts: CreateResourceOptions,
): Promise<void> {
  const dryRun = parseDryRun(opts.dryRun);
  const format = parseOutputFormat(opts.output);
  let created: Resource;
  if (dryRun === "client") {
    const { admitResource } = await import("../../api/schema/index.ts");
    created = admitResource(type, object);
  } else {
    const store = await ctx.resources();
    created = await store.create(type, object, { dryRun: dryRun === "server" });
  }
  if (format === "yaml" || format === "json") {
    ctx.io.out(await formatObjects([created], format, true));
    return;
  }
  const name = qualifiedName(type, created.metadata.name);
  if (format === "name") return ctx.io.out(name);
  const note = dryRun === "client" ? " (dry run)" : dryRun === "server" ? " (server dry run)" : "";
  ctx.io.out(`${name} created${note}`);
}
