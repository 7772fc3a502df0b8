import type { Command } from "commander";
import { AteError, Code } from "../../errors/index.ts";
import { ateVersion } from "../../version.ts";
import { bearerHeaders, fromCallError } from "../call.ts";
import type { CliContext } from "../context.ts";
import { yamlText } from "../printers.ts";

export function registerVersion(program: Command, ctx: CliContext): void {
  program
    .command("version")
    .description("Print the CLI's version and the server's")
    .option("--client", "only the CLI's version (no server needed)")
    .option("-o, --output <format>", "json|yaml")
    .action(async (opts: { client?: boolean; output?: string }) => {
      if (opts.output && opts.output !== "json" && opts.output !== "yaml")
        throw new AteError(Code.InvalidArgument, `-o ${opts.output}: use json or yaml`);
      const result: { clientVersion: string; server?: string; serverVersion?: string } = {
        clientVersion: ateVersion,
      };
      let failure: AteError | undefined;
      if (!opts.client) {
        const server = ctx.server();
        result.server = server;
        try {
          // Open to anyone; the token goes along so a proxy in front may check it too.
          const body = await getText(`${server}/version`, bearerHeaders(ctx.token()));
          result.serverVersion = (JSON.parse(body) as { version: string }).version;
        } catch (err) {
          failure = fromCallError(err, server);
        }
      }
      if (opts.output === "json") ctx.io.out(JSON.stringify(result, null, 2));
      else if (opts.output === "yaml") ctx.io.out(await yamlText(result));
      else {
        ctx.io.out(`Client Version: ${ateVersion}`);
        if (result.serverVersion)
          ctx.io.out(`Server Version: ${result.serverVersion} (${result.server})`);
      }
      if (failure) throw failure;
    });
}

/**
 * The body of a GET that answers 200. node:http rather than fetch: fetch loads undici, which
 * costs this command more than everything else it does.
 */
async function getText(url: string, headers: Record<string, string>): Promise<string> {
  const { request } = url.startsWith("https:")
    ? await import("node:https")
    : await import("node:http");
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () =>
        res.statusCode === 200
          ? resolve(Buffer.concat(chunks).toString("utf8"))
          : reject(new Error(`HTTP ${res.statusCode} from ${url}`)),
      );
    });
    req.on("error", reject);
    req.end();
  });
}
