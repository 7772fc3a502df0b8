import { isMap, parseDocument } from "yaml";
import { AteError, Code } from "../errors/index.ts";
import { readPrivateFile, writePrivateFile } from "../private-files/index.ts";

/**
 * Sets keys of the `ate` CLI's config file (YAML; `server:` and `token:`), keeping whatever
 * else is in it (comments included), written 0600 since it holds a credential. A file that is
 * not a YAML mapping is left alone and is an error naming it; so is a symlink (never followed,
 * neither to read nor to write), a FIFO or device, and another user's file.
 */
export function writeClientConfig(path: string, entries: Record<string, string>): void {
  const text = readPrivateFile(path) ?? "";
  const doc = parseDocument(text);
  if (doc.errors.length || (doc.contents !== null && !isMap(doc.contents)))
    throw new AteError(
      Code.FailedPrecondition,
      `config file ${path} is not a YAML mapping: fix or remove it (its keys are server and token)`,
    );
  for (const [key, value] of Object.entries(entries)) doc.set(key, value);
  writePrivateFile(path, String(doc));
}
