import { defaultDeny, formatIpv4 } from "./egress-cidr.ts";

/**
 * The iptables rules of egress, as text and argument lists (applying them is egress.ts's and
 * network.ts's business). Host rules live in chains named after the node's network prefix, so
 * two node agents on one machine never touch each other's.
 */
export interface HostEgressPolicy {
  /** The node's network prefix: its worker links are `<prefix>-w<n>`. */
  prefix: string;
  /** The node's worker addresses: 169.254.<subnetBase>.0 to 169.254.<subnetBase+subnets-1>.255. */
  subnetBase: number;
  subnets: number;
  /** Checked ranges (egress-cidr.ts) reachable although they are in a denied range. */
  allow: readonly string[];
  /** Checked ranges denied besides the built-in ones. */
  deny: readonly string[];
  /**
   * The port of the workers' Control API gateways (api-gateway.ts) on the node's side of each
   * link; absent: there are none, and nothing but DNS reaches the node.
   */
  apiPort?: number;
}

export interface Chains {
  input: string;
  forward: string;
  deny: string;
  nat: string;
}

export function chainsOf(prefix: string): Chains {
  return {
    input: `ate-${prefix}-in`,
    forward: `ate-${prefix}-fwd`,
    deny: `ate-${prefix}-deny`,
    nat: `ate-${prefix}-nat`,
  };
}

/** The comment on every jump into a node's chains: how its rules are found again. */
export function jumpComment(prefix: string): string {
  return `ate-egress-${prefix}`;
}

/** Marks the jump into the guard that keeps forwarding off for everything but ate's links. */
export const guardChain = "ate-forward-guard";
export const guardJump = ["-m", "comment", "--comment", guardChain, "-j", guardChain];

/** The node's worker links, as an iptables interface pattern. */
function links(prefix: string): string {
  return `${prefix}-w+`;
}

/**
 * The node's chains as `iptables-restore --noflush` input: declaring a chain creates or
 * empties it, and the whole input applies at once, so re-running converges without a
 * moment in which traffic passes unfiltered.
 */
export function hostChainsRestore(p: HostEgressPolicy): string {
  const c = chainsOf(p.prefix);
  const w = links(p.prefix);
  const { first, last } = workerRange(p);
  return [
    "*filter",
    `:${c.input} - [0:0]`,
    `:${c.forward} - [0:0]`,
    `:${c.deny} - [0:0]`,
    // From a worker, or from anywhere but the node itself to the node's side of a worker link
    // (a neighbour routing 169.254.<subnet>.0/24 to the node would find an open resolver).
    `-A ${c.input} -i lo -j RETURN`,
    // A query flood would keep the relay (in the node agent) busy: each worker gets a rate of
    // packets (UDP and TCP share it), counted before conntrack lets a flood from one socket
    // pass as ESTABLISHED.
    ...["udp", "tcp"].map(
      (proto) =>
        `-A ${c.input} -p ${proto} -m ${proto} --dport 53 -m hashlimit --hashlimit-above ${dnsRate} --hashlimit-burst ${dnsBurst} --hashlimit-mode srcip --hashlimit-name ${dnsLimitName(p.prefix)} -j DROP`,
    ),
    // The Control API gateway: new connections at a bounded rate per worker, and a few open
    // at once (the gateway bounds requests, sizes and time; this keeps a SYN flood off it).
    ...(p.apiPort
      ? [
          `-A ${c.input} -p tcp -m tcp --dport ${p.apiPort} -m conntrack --ctstate NEW -m hashlimit --hashlimit-above ${apiConnectRate} --hashlimit-burst ${apiConnectBurst} --hashlimit-mode srcip --hashlimit-name ${apiLimitName(p.prefix)} -j DROP`,
          `-A ${c.input} -p tcp -m tcp --dport ${p.apiPort} -m conntrack --ctstate NEW -m connlimit --connlimit-above ${apiConnections} --connlimit-mask 32 -j REJECT --reject-with tcp-reset`,
        ]
      : []),
    // Answers to the node's own connections (the agent and the router reach workers) and DNS
    // to the worker's relay, on the worker's own link. Nothing else: not the node's other
    // addresses, the API or the router.
    `-A ${c.input} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
    `-A ${c.input} -p udp -m udp --dport 53 -m addrtype --dst-type LOCAL --limit-iface-in -j ACCEPT`,
    `-A ${c.input} -p tcp -m tcp --dport 53 -m addrtype --dst-type LOCAL --limit-iface-in -j ACCEPT`,
    ...(p.apiPort
      ? [
          `-A ${c.input} -p tcp -m tcp --dport ${p.apiPort} -m addrtype --dst-type LOCAL --limit-iface-in -j ACCEPT`,
        ]
      : []),
    `-A ${c.input} -j DROP`,
    // Into a worker: only answers to its own connections (no worker reaches another).
    `-A ${c.forward} -o ${w} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
    `-A ${c.forward} -o ${w} -j DROP`,
    // From a worker: allowed ranges, then denied ones, then the world.
    ...p.allow.map((r) => `-A ${c.forward} -d ${r} -j ACCEPT`),
    ...[...defaultDeny, ...p.deny].map((r) => `-A ${c.forward} -d ${r} -j ${c.deny}`),
    `-A ${c.forward} -j ACCEPT`,
    // Refused, not dropped: the caller fails at once instead of waiting for a timeout.
    `-A ${c.deny} -p tcp -j REJECT --reject-with tcp-reset`,
    `-A ${c.deny} -j REJECT --reject-with icmp-admin-prohibited`,
    "COMMIT",
    "*nat",
    `:${c.nat} - [0:0]`,
    `-A ${c.nat} ! -o ${w} -m iprange --src-range ${first}-${last} -j MASQUERADE`,
    "COMMIT",
    "",
  ].join("\n");
}

/** DNS packets a worker may send its relay per second, and in a burst (far above a program's lookups). */
export const dnsRate = "500/sec";
export const dnsBurst = 1000;

/** The rate limit's table (at most 15 characters: the prefix has at most 5). */
export function dnsLimitName(prefix: string): string {
  return `ate-${prefix}-dns`;
}

/**
 * Where a sandbox reaches the Control API: its gateway's port 80, which its NAT namespace
 * sends to the worker's gateway on the node (api-gateway.ts).
 */
export const sandboxApiPort = 80;
/** New connections a worker may open to its Control API gateway per second, in a burst, at once. */
export const apiConnectRate = "20/sec";
export const apiConnectBurst = 40;
export const apiConnections = 8;

/** The gateway's connection rate table (at most 15 characters: the prefix has at most 5). */
export function apiLimitName(prefix: string): string {
  return `ate-${prefix}-api`;
}

/** The node's worker addresses, first and last. */
function workerRange(p: { subnetBase: number; subnets: number }): { first: string; last: string } {
  return {
    first: formatIpv4(((169 * 256 + 254) * 256 + p.subnetBase) * 256),
    last: formatIpv4(((169 * 256 + 254) * 256 + p.subnetBase + p.subnets - 1) * 256 + 255),
  };
}

export interface Jump {
  table: "filter" | "nat";
  chain: string;
  /** The rule after `-A <chain>`, as `iptables -S` prints it. */
  spec: string[];
}

/** The rules that send the node's traffic into its chains (a worker's, and any to a worker link). */
export function hostJumps(p: Pick<HostEgressPolicy, "prefix" | "subnetBase" | "subnets">): Jump[] {
  const c = chainsOf(p.prefix);
  const w = links(p.prefix);
  const tag = ["-m", "comment", "--comment", jumpComment(p.prefix)];
  const r = workerRange(p);
  return [
    { table: "filter", chain: "INPUT", spec: ["-i", w, ...tag, "-j", c.input] },
    {
      table: "filter",
      chain: "INPUT",
      spec: ["-m", "iprange", "--dst-range", `${r.first}-${r.last}`, ...tag, "-j", c.input],
    },
    { table: "filter", chain: "FORWARD", spec: ["-i", w, ...tag, "-j", c.forward] },
    { table: "filter", chain: "FORWARD", spec: ["-o", w, ...tag, "-j", c.forward] },
    { table: "nat", chain: "POSTROUTING", spec: [...tag, "-j", c.nat] },
  ];
}

/**
 * The guard that keeps a host that did not forward before from forwarding anything but ate's
 * workers' traffic (which its own chains, jumped to first, accept or drop) and established flows.
 */
export function guardRestore(): string {
  return [
    "*filter",
    `:${guardChain} - [0:0]`,
    `-A ${guardChain} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN`,
    `-A ${guardChain} -j DROP`,
    "COMMIT",
    "",
  ].join("\n");
}

/**
 * A worker's NAT namespace (out0 towards the node, gw0 towards the sandbox) as
 * `iptables-restore --noflush` input. `default`: the sandbox's traffic leaves masqueraded as
 * the worker's address, and DNS to its gateway (10.88.0.1) goes to the relay on the node's
 * side of the link, and its port 80 to the Control API gateway there (`apiPort`, when the
 * node has one). `none`: nothing the sandbox starts leaves the namespace (no gateway either).
 */
export function workerNatRestore(
  egress: "default" | "none",
  hostAddress: string,
  gateway: string,
  apiPort?: number,
): string {
  if (egress === "none")
    return [
      "*filter",
      "-A FORWARD -i gw0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
      "-A FORWARD -i gw0 -j DROP",
      "COMMIT",
      "",
    ].join("\n");
  return [
    "*nat",
    ...["udp", "tcp"].map(
      (proto) =>
        `-A PREROUTING -d ${gateway}/32 -i gw0 -p ${proto} -m ${proto} --dport 53 -j DNAT --to-destination ${hostAddress}:53`,
    ),
    // The Control API (for the actor itself, with its token) through the worker's gateway.
    ...(apiPort
      ? [
          `-A PREROUTING -d ${gateway}/32 -i gw0 -p tcp -m tcp --dport ${sandboxApiPort} -j DNAT --to-destination ${hostAddress}:${apiPort}`,
        ]
      : []),
    "-A POSTROUTING -o out0 -j MASQUERADE",
    "COMMIT",
    // Every flow the sandbox starts is tracked here and on the node, whose table is shared by
    // everything on it: unbounded, one actor spraying UDP ports filled 65 000 entries in 4 s
    // (and the node drops new connections once its table is full). TCP connections count until
    // they close, other flows until their tracking expires (30 s unanswered).
    "*filter",
    `-A FORWARD -i gw0 -m conntrack --ctstate NEW -m connlimit --connlimit-above ${maxWorkerFlows} --connlimit-mask 0 -j REJECT --reject-with icmp-admin-prohibited`,
    "COMMIT",
    "",
  ].join("\n");
}

/** Flows a sandbox may have open at once (beyond them, new ones are refused). */
export const maxWorkerFlows = 4096;
