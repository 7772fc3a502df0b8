import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { AteError, Code } from "../../errors/index.ts";
import { buildNodeRootfs } from "./node-rootfs.ts";
import { packAndPush } from "./pack.ts";

export interface NodeAppImageOptions {
  /** The app's entry file (TypeScript or JavaScript); its imports are bundled into one file. */
  entry: string;
  /** registry/repository[:tag] to push to. */
  reference: string;
  env?: string[];
  /** Host programs to add as /usr/bin/<name>, with the libraries they link (e.g. sh, ls). */
  programs?: string[];
}

/**
 * A Node.js app as an image: its entry bundled (TypeScript compiled) into /app/main.mjs, with
 * this machine's node binary and the libraries it links. Returns the pinned reference.
 */
export async function buildNodeAppImage(o: NodeAppImageOptions): Promise<string> {
  let code: string;
  try {
    const out = await build({
      entryPoints: [o.entry],
      bundle: true,
      platform: "node",
      format: "esm",
      target: `node${process.versions.node.split(".")[0]}`,
      write: false,
      logLevel: "silent",
      // Bundled CommonJS dependencies may call require(); give them one.
      banner: {
        js: 'import { createRequire as __ateRequire } from "node:module"; const require = __ateRequire(import.meta.url);',
      },
    });
    code = out.outputFiles[0]?.text ?? "";
  } catch (err) {
    const first = (
      err as { errors?: { text: string; location?: { file: string; line: number } }[] }
    ).errors?.[0];
    throw new AteError(
      Code.InvalidArgument,
      `cannot build ${o.entry}: ${first ? `${first.location ? `${first.location.file}:${first.location.line}: ` : ""}${first.text}` : (err as Error).message}`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), "ate-node-app-"));
  try {
    buildNodeRootfs(dir, { files: { "main.mjs": code } }, o.programs);
    return await packAndPush({
      dir,
      reference: o.reference,
      entrypoint: ["/usr/bin/node", "/app/main.mjs"],
      ...(o.env ? { env: o.env } : {}),
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
