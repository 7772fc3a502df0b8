import { BlockList, isIP } from "node:net";
import { isDNS1123Subdomain } from "../api/names/index.ts";
import { sandboxClasses } from "../api/v1alpha1/index.ts";
import { AteError, Code } from "../errors/index.ts";
import type { NodeRegistration } from "../node/index.ts";
import { checkNodeEntry } from "./node-entry.ts";

/** Bounds of a registration: it is stored and rewritten with every heartbeat. */
export const registrationLimits = {
  maxWorkers: 100_000,
  /** 1 PiB. */
  maxMemoryBytes: 2 ** 50,
  /** 100 000 cores. */
  maxCpuMillis: 100_000_000,
  maxCachedAssets: 1024,
  maxCachedImages: 1024,
  maxImageLength: 512,
  maxUrlLength: 2048,
  maxSourceLength: 256,
  minCallSecretLength: 16,
  maxCallSecretLength: 512,
} as const;

const sha256Hex = /^[0-9a-f]{64}$/;
/** Go's GOARCH names: amd64, arm64, ppc64le, riscv64, s390x, 386… */
const archName = /^[a-z0-9][a-z0-9_]{0,31}$/;
/** `registry/repository@sha256:<hex>`: printable, no spaces, pinned by digest. */
const pinnedImage = /^[\x21-\x7e]+@sha256:[0-9a-f]{64}$/;
/** A bearer token: printable ASCII without spaces (it travels in a header). */
const bearer = /^[\x21-\x7e]+$/;
const printable = /^[\x20-\x7e]*$/;

function invalid(field: string, value: unknown, why: string): AteError {
  const shown = typeof value === "string" && value.length > 80 ? `${value.slice(0, 80)}…` : value;
  return new AteError(
    Code.InvalidArgument,
    `registration.${field}: Invalid value: ${JSON.stringify(shown)}: ${why}`,
  );
}

function text(field: string, value: unknown, max: number): string {
  if (typeof value !== "string") throw invalid(field, value, "must be a string");
  if (value.length > max) throw invalid(field, value, `must be at most ${max} characters`);
  return value;
}

function integer(field: string, value: unknown, max: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0 || value > max)
    throw invalid(field, value, `must be an integer from 0 to ${max}`);
  return value;
}

function list(
  field: string,
  value: unknown,
  max: number,
  check: (v: string) => boolean,
  what: string,
) {
  if (!Array.isArray(value)) throw invalid(field, value, "must be a list");
  if (value.length > max)
    throw invalid(field, `${value.length} items`, `must hold at most ${max} items`);
  value.forEach((v, i) => {
    if (typeof v !== "string" || !check(v)) throw invalid(`${field}[${i}]`, v, what);
  });
  if (new Set(value).size !== value.length) throw invalid(field, value, "must not repeat items");
  return value as string[];
}

/** A host name or IP address. */
function isHost(host: string): boolean {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  return isIP(bare) !== 0 || isDNS1123Subdomain(host).length === 0;
}

/** `host:port`, IPv6 in brackets. */
function isHostPort(value: string): boolean {
  const m = /^(.+):(\d{1,5})$/.exec(value);
  if (!m) return false;
  const port = Number(m[2]);
  const host = m[1] as string;
  if (port < 1 || port > 65535) return false;
  if (host.includes(":") && !(host.startsWith("[") && host.endsWith("]"))) return false;
  return isHost(host);
}

/**
 * Checks a node's registration (and, at register, its call secret) before anything of it is
 * stored: every field typed, bounded and in its syntax. INVALID_ARGUMENT naming the field.
 */
export function checkRegistration(r: NodeRegistration, callSecret?: string): void {
  if (typeof r !== "object" || r === null) throw invalid("", r, "must be an object");
  // As Kubernetes node names: a DNS subdomain, so a host name (with dots) can be one.
  const name = text("name", r.name, 253);
  const problems = isDNS1123Subdomain(name);
  if (problems.length) throw invalid("name", name, problems.join("; "));

  const url = text("url", r.url, registrationLimits.maxUrlLength);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid("url", url, "must be an absolute http(s) URL, e.g. http://10.0.0.5:7444");
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
    throw invalid("url", url, "must be an http:// or https:// URL");
  if (parsed.username || parsed.password)
    throw invalid("url", url, "must not carry credentials (the call secret is sent apart)");
  if (parsed.search || parsed.hash) throw invalid("url", url, "must have no query or fragment");

  if (r.entry !== undefined && r.entry !== "") {
    const entry = text("entry", r.entry, 260);
    if (!isHostPort(entry)) throw invalid("entry", entry, "must be host:port, e.g. 10.0.0.5:7481");
  }
  const address = text("address", r.address, 253);
  if (!isHost(address)) throw invalid("address", address, "must be an IP address or a host name");
  const arch = text("arch", r.arch, 32);
  if (!archName.test(arch))
    throw invalid("arch", arch, "must be a Go architecture name, e.g. amd64");

  const classes = list(
    "sandboxClasses",
    r.sandboxClasses,
    sandboxClasses.length,
    (c) => (sandboxClasses as readonly string[]).includes(c),
    `must be one of ${sandboxClasses.join(", ")}`,
  );
  if (classes.length === 0)
    throw invalid("sandboxClasses", classes, "must name at least one sandbox class");

  const cap = r.capacity;
  if (typeof cap !== "object" || cap === null) throw invalid("capacity", cap, "must be an object");
  integer("capacity.workers", cap.workers, registrationLimits.maxWorkers);
  integer("capacity.memoryBytes", cap.memoryBytes, registrationLimits.maxMemoryBytes);
  integer("capacity.cpuMillis", cap.cpuMillis, registrationLimits.maxCpuMillis);
  const source = text("capacity.source", cap.source, registrationLimits.maxSourceLength);
  if (!printable.test(source)) throw invalid("capacity.source", source, "must be printable text");

  list(
    "cachedAssets",
    r.cachedAssets,
    registrationLimits.maxCachedAssets,
    (d) => sha256Hex.test(d),
    "must be a sha256 digest: 64 lowercase hex digits",
  );
  list(
    "cachedImages",
    r.cachedImages,
    registrationLimits.maxCachedImages,
    (i) => i.length <= registrationLimits.maxImageLength && pinnedImage.test(i),
    `must be an image pinned by digest (repository@sha256:<64 hex>), at most ${registrationLimits.maxImageLength} characters`,
  );

  if (callSecret !== undefined) {
    const { minCallSecretLength: min, maxCallSecretLength: max } = registrationLimits;
    if (
      typeof callSecret !== "string" ||
      callSecret.length < min ||
      callSecret.length > max ||
      !bearer.test(callSecret)
    )
      throw new AteError(
        Code.InvalidArgument,
        `callSecret: must be ${min} to ${max} printable characters without spaces (a bearer token the node made)`,
      );
  }
}

/** What the control plane may call as a node (see checkNodeReach). */
export interface NodeReachRules {
  /**
   * Loopback node URLs are accepted: the control plane serves on loopback only, so every
   * node is on its host (a one-host test or dev set-up).
   */
  allowLoopback?: boolean;
  /** The URL of a node the control plane calls in process (ate up's): it is never dialled. */
  inProcessUrl?: string;
}

const blocks = (ranges: [string, number, "ipv4" | "ipv6"][]) => {
  const list = new BlockList();
  for (const [net, prefix, family] of ranges) list.addSubnet(net, prefix, family);
  return list;
};

const loopback = blocks([
  ["127.0.0.0", 8, "ipv4"],
  ["::1", 128, "ipv6"],
]);

/**
 * Addresses no node has: where a call with a node's secret would reach something else (a
 * cloud metadata service, this host, many hosts). BlockList also matches IPv4 rules against
 * IPv4-mapped IPv6 addresses, so `::ffff:169.254.169.254` is caught by 169.254/16.
 */
const refused: [BlockList, string][] = [
  [blocks([["0.0.0.0", 8, "ipv4"]]), "an unspecified (this-network) address"],
  [blocks([["::", 128, "ipv6"]]), "the unspecified address"],
  [
    blocks([
      ["169.254.0.0", 16, "ipv4"],
      ["fe80::", 10, "ipv6"],
    ]),
    "a link-local address (cloud metadata services answer at 169.254.169.254)",
  ],
  [
    blocks([
      ["100.100.100.200", 32, "ipv4"],
      ["fd00:ec2::254", 128, "ipv6"],
    ]),
    "a cloud metadata service's address",
  ],
  [
    blocks([
      ["224.0.0.0", 4, "ipv4"],
      ["ff00::", 8, "ipv6"],
    ]),
    "a multicast address",
  ],
  [blocks([["240.0.0.0", 4, "ipv4"]]), "a reserved or broadcast address"],
  [blocks([["64:ff9b::", 96, "ipv6"]]), "a NAT64 address (it reaches IPv4 hosts elsewhere)"],
];

/** An IP literal or `localhost`, of this host only. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (bare.toLowerCase() === "localhost") return true;
  const family = isIP(bare);
  return family !== 0 && loopback.check(bare, family === 4 ? "ipv4" : "ipv6");
}

/** `http(s)://` + an IPv4 literal or a bracketed IPv6 one + `:port`, then at most `/`. */
const nodeUrlShape = /^https?:\/\/(?:[0-9.]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})\/?$/;

/**
 * Where the control plane will call a registering node (with the node's call secret): its
 * `address`, an IP literal, at an explicit port, nothing else. A node token could otherwise
 * make the control plane send requests and the secret anywhere it reaches (SSRF): to a cloud
 * metadata service, to services on its own host (loopback, unless `allowLoopback`), to
 * multicast. The in-process node's URL (`inProcessUrl`) is never dialled, so it passes.
 * Run after checkRegistration (the fields are typed then). INVALID_ARGUMENT naming the field.
 */
export function checkNodeReach(r: NodeRegistration, rules: NodeReachRules = {}): void {
  const family = isIP(r.address);
  if (family === 0)
    throw invalid(
      "address",
      r.address,
      "must be the node's IP address (ate node --address), e.g. 10.0.0.5: the control plane calls it there",
    );
  if (rules.inProcessUrl !== undefined && r.url === rules.inProcessUrl) return;
  const host = new URL(`http://${family === 6 ? `[${r.address}]` : r.address}/`).hostname;
  const example = `http://${family === 6 ? `[${r.address}]` : r.address}:7444`;
  const shape = nodeUrlShape.exec(r.url);
  const port = Number(shape?.[1]);
  if (!shape || port < 1 || port > 65535 || new URL(r.url).hostname !== host)
    throw invalid(
      "url",
      r.url,
      `must be http(s)://<address>:<port> with this node's address (registration.address ${r.address}), an explicit port and no path, e.g. ${example}`,
    );
  checkAddress(r.address, host, rules);
  checkNodeEntry(r); // routers reach a node on the network only through its entry point
}

/** A node's address (`host`: as URLs spell it) is one no node may have. */
function checkAddress(address: string, host: string, rules: NodeReachRules): void {
  const bare = host.startsWith("[") ? host.slice(1, -1) : host;
  const type = isIP(bare) === 4 ? "ipv4" : "ipv6";
  if (loopback.check(bare, type)) {
    if (rules.allowLoopback) return;
    throw invalid(
      "address",
      address,
      "is a loopback address: the control plane calls loopback nodes only while it serves on loopback itself (all on one host); give the node's address on the network the control planes share",
    );
  }
  for (const [list, what] of refused)
    if (list.check(bare, type))
      throw invalid(
        "address",
        address,
        `is ${what}, never a node's: give the node's address on the network the control planes share`,
      );
  if (/^::ffff:/i.test(bare))
    throw invalid("address", address, "is IPv4-mapped: give the IPv4 address itself");
}
