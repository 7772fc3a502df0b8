export { type CliIO, processIO } from "./io.ts";
export { runCli } from "./main.ts";
