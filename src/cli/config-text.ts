// The CLI's config file, parsed. The file as `ate up` writes it (`server: URL` and
// `token: TEXT` lines) is read here without the yaml package, which would cost every command
// more than the rest of its start (≈25 ms); any other text goes to the yaml package, so the
// result is always what YAML makes of the file, its errors included.
import { createRequire } from "node:module";

/** `key: value` where YAML reads the value as this very string: a plain, one-word scalar. */
const simpleLine = /^([a-z]+): ([A-Za-z](?:[\w.:/-]*[\w./-])?)$/;

/** Plain scalars that YAML's core schema reads as null or a boolean, not as a string. */
const notStrings = new Set([
  "null",
  "Null",
  "NULL",
  "true",
  "True",
  "TRUE",
  "false",
  "False",
  "FALSE",
]);

/** The file's lines as key/value pairs, if every line is simple (or blank); else undefined. */
function simpleMapping(text: string): Record<string, string> | null | undefined {
  const doc: Record<string, string> = {};
  let empty = true;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const m = simpleLine.exec(line);
    const [key, value] = [m?.[1] ?? "", m?.[2] ?? ""];
    if (!m || notStrings.has(value) || Object.hasOwn(doc, key)) return undefined;
    doc[key] = value;
    empty = false;
  }
  // A file of blank lines is an empty YAML document: null.
  return empty ? null : doc;
}

/** The config file's text as YAML would parse it (throws yaml's error when it is not YAML). */
export function parseConfigText(text: string): unknown {
  const simple = simpleMapping(text);
  if (simple !== undefined) return simple;
  // Loaded synchronously, as the config is read where it is needed; from node_modules, the
  // same yaml the bundled commands use.
  const { parse } = createRequire(import.meta.url)("yaml") as typeof import("yaml");
  return parse(text);
}
