// `ate kubeconfig`: a kubeconfig for kubectl against the ate server this CLI talks to, with the
// CLI's own token. ate serves discovery, OpenAPI and Tables (src/server/discovery.ts, ...), so
// kubectl apply/get/delete/watch work on ate's resources without a Kubernetes cluster.
import { randomBytes } from "node:crypto";
import { chmodSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Command } from "commander";
import { AteError, Code } from "../../errors/index.ts";
import type { CliContext } from "../context.ts";
import { yamlText } from "../printers.ts";

export interface KubeconfigOptions {
  context?: string;
  output?: string;
  namespace?: string;
  certificateAuthority?: string;
}

/** A kubeconfig name (context, cluster, user): kubectl takes any, ate keeps them plain. */
const namePattern = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,252}$/;

/**
 * The kubeconfig for `server` and `token`. kubectl sends credentials to TLS servers only
 * (client-go drops a kubeconfig's token for http://), so an http server carries the token as
 * its URL's password, which kubectl sends as Basic auth and ate's API takes as the bearer
 * token (src/server/basic-token.ts). An https server gets the token and, when given, its CA.
 */
export function kubeconfigFor(o: {
  server: string;
  token: string;
  context: string;
  namespace: string;
  caPem?: string;
}): Record<string, unknown> {
  const url = new URL(o.server);
  const https = url.protocol === "https:";
  if (!https) {
    url.username = "ate";
    url.password = o.token;
  }
  const cluster: Record<string, string> = { server: url.href.replace(/\/$/, "") };
  if (https && o.caPem)
    cluster["certificate-authority-data"] = Buffer.from(o.caPem).toString("base64");
  return {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: o.context, cluster }],
    users: [{ name: o.context, user: https ? { token: o.token } : {} }],
    contexts: [
      {
        name: o.context,
        context: { cluster: o.context, user: o.context, namespace: o.namespace },
      },
    ],
    "current-context": o.context,
    preferences: {},
  };
}

/** Writes `text` to `path` with mode 0600, whole or not at all (temp file, then rename). */
function writePrivate(path: string, text: string): void {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    writeFileSync(temp, text, { mode: 0o600, flag: "wx" });
    chmodSync(temp, 0o600); // whatever the umask
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw new AteError(
      Code.InvalidArgument,
      `cannot write ${path}: ${(err as Error).message.split("\n")[0]}`,
    );
  }
}

function checkName(flag: string, value: string): string {
  if (!namePattern.test(value))
    throw new AteError(
      Code.InvalidArgument,
      `${flag} ${JSON.stringify(value.slice(0, 100))}: use letters, digits, ".", "_", "@" or "-" (at most 253), starting with a letter or digit`,
    );
  return value;
}

export function registerKubeconfig(program: Command, ctx: CliContext): void {
  program
    .command("kubeconfig")
    .description(
      "Write a kubeconfig for kubectl against this ate server, with this CLI's token (e.g. KUBECONFIG=FILE kubectl get workerpools -A)",
    )
    .option("--context <name>", "the context's (and cluster's, user's) name", "ate")
    .option("-n, --namespace <ns>", "the context's default namespace", "default")
    .option(
      "--certificate-authority <file>",
      "PEM CA of an https server (default: $NODE_EXTRA_CA_CERTS, if set)",
    )
    .option(
      "-o, --output <file>",
      "write to this file (mode 0600, replaced whole) instead of stdout",
    )
    .action(async (opts: KubeconfigOptions) => {
      const context = checkName("--context", opts.context ?? "ate");
      const namespace = checkName("--namespace", opts.namespace ?? "default");
      const server = ctx.server();
      const token = ctx.token();
      if (!token)
        throw new AteError(
          Code.Unauthenticated,
          `no token for ${server}: pass --token, set ATE_TOKEN, or run ate up (which writes one to the config file)`,
        );
      const caFile =
        opts.certificateAuthority ??
        (server.startsWith("https:")
          ? process.env.NODE_EXTRA_CA_CERTS || process.env.ATE_DEFERRED_CA_CERTS
          : undefined);
      let caPem: string | undefined;
      if (caFile) {
        try {
          caPem = readFileSync(caFile, "utf8");
        } catch (err) {
          throw new AteError(
            Code.InvalidArgument,
            `--certificate-authority ${caFile}: ${(err as Error).message.split("\n")[0]}`,
          );
        }
        if (!caPem.includes("-----BEGIN CERTIFICATE-----"))
          throw new AteError(
            Code.InvalidArgument,
            `--certificate-authority ${caFile}: not a PEM certificate (no BEGIN CERTIFICATE line)`,
          );
      }
      const text = await yamlText(
        kubeconfigFor({ server, token, context, namespace, ...(caPem ? { caPem } : {}) }),
        { lineWidth: 0 },
      );
      if (!opts.output) return void ctx.io.out(text.trimEnd());
      writePrivate(opts.output, text);
      ctx.io.err(`wrote ${opts.output}: KUBECONFIG=${opts.output} kubectl get workerpools -A`);
    });
}
