// The real kubectl, as the kubectl tests run it against ate's API: Debian's (1.20, unpacked by
// scripts/setup-system.sh, the one CI has) and, when this machine has it, a newer one at
// /usr/bin/kubectl.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";

export interface Kubectl {
  path: string;
  /** e.g. "v1.20.2" */
  version: string;
}

/** Where scripts/setup-system.sh unpacks Debian's kubernetes-client. */
export const debianKubectl = "/opt/ate/kubernetes-client/usr/bin/kubectl";

function clientVersion(path: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(path, ["version", "--client", "-o", "json"], (err, stdout) => {
      if (err) return resolve(undefined);
      try {
        resolve(
          (JSON.parse(stdout) as { clientVersion: { gitVersion: string } }).clientVersion
            .gitVersion,
        );
      } catch {
        resolve(undefined);
      }
    });
  });
}

/** Debian's kubectl first (required), then /usr/bin/kubectl when it is another version. */
export async function findKubectls(): Promise<Kubectl[]> {
  const debian = existsSync(debianKubectl) ? await clientVersion(debianKubectl) : undefined;
  if (!debian)
    throw new Error(
      `Debian's kubectl is not at ${debianKubectl}: run scripts/setup-system.sh as root (it unpacks the kubernetes-client package there)`,
    );
  const found: Kubectl[] = [{ path: debianKubectl, version: debian }];
  const other = existsSync("/usr/bin/kubectl")
    ? await clientVersion("/usr/bin/kubectl")
    : undefined;
  if (other && other !== debian) found.push({ path: "/usr/bin/kubectl", version: other });
  return found;
}

export interface KubectlResult {
  code: number;
  out: string;
  err: string;
}

/** Runs kubectl to its end with this kubeconfig; a private HOME keeps its discovery cache apart. */
export function runKubectl(
  k: Kubectl,
  env: { KUBECONFIG: string; HOME: string },
  args: string[],
  stdin?: string,
): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      k.path,
      args,
      { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, timeout: 60_000 },
      (err, out, errText) => {
        const code = err ? ((err as { code?: unknown }).code as number) : 0;
        if (typeof code !== "number") return reject(err);
        resolve({ code, out, err: errText });
      },
    );
    if (stdin !== undefined) child.stdin?.end(stdin);
  });
}

/** A kubectl left running (`get -w`): its output so far, and a wait for a line to appear. */
export interface RunningKubectl {
  child: ChildProcess;
  output(): string;
  /** Resolves once the output matches `re`; rejects if kubectl ends or `ms` pass first. */
  waitFor(re: RegExp, ms?: number): Promise<void>;
  /** Ends it (by its pid) and waits for it to be gone. */
  stop(): Promise<void>;
}

export function startKubectl(
  k: Kubectl,
  env: { KUBECONFIG: string; HOME: string },
  args: string[],
): RunningKubectl {
  const child = spawn(k.path, args, {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  const waiters = new Set<() => void>();
  const onData = (c: Buffer) => {
    text += c.toString("utf8");
    for (const w of waiters) w();
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    child,
    output: () => text,
    waitFor: (re, ms = 20_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (!re.test(text)) return;
          done();
          resolve();
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(`kubectl ${args.join(" ")}: no ${re} within ${ms} ms; output:\n${text}`),
          );
        }, ms);
        const ended = () => {
          done();
          reject(new Error(`kubectl ${args.join(" ")} ended before ${re}; output:\n${text}`));
        };
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off("exit", ended);
        };
        waiters.add(check);
        child.once("exit", ended);
        check();
      }),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
