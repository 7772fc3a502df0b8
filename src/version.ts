import { readFileSync } from "node:fs";

/** ate's version, from its package.json (one source for the CLI and the server). */
export const ateVersion: string = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  }
).version;
