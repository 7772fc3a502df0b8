import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { AteError, Code } from "../../errors/index.ts";

/** A DNS server the node's relays forward to. */
export interface Resolver {
  host: string;
  port: number;
}

/**
 * Parses a `--dns` value: an IPv4 or IPv6 address, with a port as `1.2.3.4:5353` or
 * `[2001:db8::1]:5353` (default 53).
 */
export function parseResolver(text: string, flag = "--dns"): Resolver {
  const bad = () =>
    new AteError(
      Code.InvalidArgument,
      `${flag} ${JSON.stringify(text)}: give a DNS server's IP address (e.g. 1.1.1.1, 1.1.1.1:53 or [2606:4700:4700::1111]:53)`,
    );
  const t = text.trim();
  let host = t;
  let port = 53;
  const v6 = t.match(/^\[([^\]]+)\](?::(\d+))?$/);
  const v4 = t.match(/^([\d.]+):(\d+)$/);
  if (v6) {
    host = v6[1] as string;
    if (v6[2]) port = Number(v6[2]);
  } else if (v4) {
    host = v4[1] as string;
    port = Number(v4[2]);
  }
  if (!isIP(host) || !(port >= 1 && port <= 65535)) throw bad();
  return { host, port };
}

/** The `nameserver` lines of a resolv.conf. */
export function parseResolvConf(text: string): Resolver[] {
  const out: Resolver[] = [];
  for (const line of text.split("\n")) {
    const m = line.trim().match(/^nameserver\s+(\S+)/);
    // A scoped IPv6 address (fe80::1%eth0) keeps its zone: the relay runs on the node.
    const host = m?.[1];
    if (host && isIP(host.split("%")[0] as string)) out.push({ host, port: 53 });
  }
  return out;
}

/**
 * The resolvers a node's relays forward to: the ones given (`ate up --dns`), else the node's
 * own /etc/resolv.conf (127.0.0.53 and the like work: the relay runs on the node), else
 * 127.0.0.1 as the C library assumes.
 */
export function nodeResolvers(
  given: readonly string[] | undefined,
  resolvConf = "/etc/resolv.conf",
): Resolver[] {
  if (given?.length) return given.map((g) => parseResolver(g, "egress.dns"));
  let text = "";
  try {
    text = readFileSync(resolvConf, "utf8");
  } catch {
    // No resolv.conf: the C library's default below.
  }
  const found = parseResolvConf(text);
  return found.length ? found : [{ host: "127.0.0.1", port: 53 }];
}
