import { setTimeout as sleep } from "node:timers/promises";
import { AteError, Code } from "../../errors/index.ts";
import { exec } from "../exec.ts";
import type { ApiGateway } from "./api-gateway.ts";
import { drainChain } from "./drain.ts";
import { iptablesRestoreThen } from "./iptables-restore.ts";

/**
 * Before a checkpoint, the sandbox's connections to its Control API gateway are closed, as
 * those into it are (drain.ts): gVisor restores an endpoint that was open at checkpoint into a
 * dead process. The usual one is the actor's own SuspendActor or PauseActor, under way while
 * its checkpoint is taken. New ones are refused in the worker's NAT namespace (a rule in the
 * drain's chain, emptied with it after the checkpoint), the open ones reset by the gateway
 * (the call itself goes on: the control plane finishes the suspend), and none may remain.
 */
export async function closeApiConnections(
  natNs: string,
  apiPort: number,
  gateway: ApiGateway | undefined,
  deadline: number,
  signal?: AbortSignal,
): Promise<void> {
  // Reset, then refused and listed in one process chain (this runs on every checkpoint): a
  // connection made in between is found by the listing and reset in the loop below.
  gateway?.resetConnections();
  const refuse = [
    "*filter",
    `-A ${drainChain} -i gw0 -p tcp -m tcp --dport ${apiPort} --syn -j REJECT --reject-with tcp-reset`,
    "COMMIT",
    "",
  ].join("\n");
  const first = await iptablesRestoreThen(refuse, natNs, listFlows);
  if (!first.restored)
    throw new AteError(
      Code.Internal,
      `cannot refuse new connections to the Control API gateway in ${natNs}; not checkpointing`,
    );
  let open = first.code === 0 ? countApiFlows(first.stdout, apiPort) : undefined;
  for (;;) {
    open ??= await openApiFlows(natNs, apiPort);
    if (open === 0) return;
    if (Date.now() >= deadline)
      throw new AteError(
        Code.FailedPrecondition,
        `${open} connection(s) from the sandbox to its Control API gateway could not be closed; not checkpointing, the actor keeps running`,
      );
    gateway?.resetConnections(); // one accepted since
    await sleep(25, undefined, signal ? { signal } : {});
    open = undefined;
  }
}

/** Lists the tracked connections, as drain.ts does (the kernel's file where it has one). */
const listFlows = [
  "[ -r /proc/net/nf_conntrack ] && exec cat /proc/net/nf_conntrack",
  "exec conntrack -L -p tcp",
].join("\n");

/** Tracked TCP connections from the sandbox to the gateway (reply from its port) not closed. */
async function openApiFlows(natNs: string, apiPort: number): Promise<number> {
  const { stdout } = await exec("ip", ["netns", "exec", natNs, "/bin/sh", "-c", listFlows], {
    code: Code.Internal,
  });
  return countApiFlows(stdout, apiPort);
}

/** `conntrack -L` or /proc/net/nf_conntrack lines → open TCP flows answered from `apiPort`. */
export function countApiFlows(stdout: string, apiPort: number): number {
  let n = 0;
  for (const line of stdout.split("\n")) {
    const m = line.match(/^(?:ipv4\s+\d+\s+)?tcp\s+\d+\s+\d+\s+(\S+)\s/);
    if (!m || m[1] === "TIME_WAIT" || m[1] === "CLOSE") continue;
    const reply = [...line.matchAll(/src=\S+ dst=\S+ sport=(\d+) dport=\d+/g)][1];
    if (reply && Number(reply[1]) === apiPort) n++;
  }
  return n;
}
