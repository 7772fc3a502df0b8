import { AteError, Code } from "../../errors/index.ts";

/**
 * IPv4 ranges for the egress policy. Actors have no IPv6 (their sandbox's network is
 * IPv4 only), so only IPv4 ranges are meaningful.
 */
export interface Cidr {
  /** The network address as a 32-bit unsigned number. */
  base: number;
  bits: number;
}

/**
 * What an actor never reaches unless `--egress-allow` names it: "this network", private
 * (RFC 1918), shared (CGNAT, 100.64/10), loopback, link-local (cloud metadata services, the
 * node's worker links), multicast and reserved ranges.
 */
export const defaultDeny: readonly string[] = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "224.0.0.0/4",
  "240.0.0.0/4",
];

/**
 * What `--egress-allow` may never open: an actor reaching these would reach the node itself,
 * metadata services, other workers (all of them link-local) or broadcast/multicast groups.
 */
const neverAllowed: readonly { cidr: string; what: string }[] = [
  { cidr: "0.0.0.0/8", what: '"this network" (0.0.0.0/8)' },
  { cidr: "127.0.0.0/8", what: "loopback (127.0.0.0/8)" },
  {
    cidr: "169.254.0.0/16",
    what: "link-local (169.254.0.0/16: metadata services and ate's workers)",
  },
  { cidr: "224.0.0.0/4", what: "multicast (224.0.0.0/4)" },
  { cidr: "240.0.0.0/4", what: "reserved and broadcast (240.0.0.0/4)" },
];

/** Parses a dotted IPv4 address; undefined if it is not one. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

function mask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/**
 * Parses `a.b.c.d/n` (or a bare address, a /32). `flag` names where the value came from in
 * errors (e.g. `--egress-allow`).
 */
export function parseCidr(text: string, flag: string): Cidr {
  const bad = (why: string) =>
    new AteError(Code.InvalidArgument, `${flag} ${JSON.stringify(text)}: ${why}`);
  const [addr = "", len, extra] = text.trim().split("/");
  if (extra !== undefined) throw bad("give an IPv4 range like 203.0.113.0/24");
  if (addr.includes(":")) throw bad("only IPv4 ranges are supported (actors have no IPv6 network)");
  const base = parseIpv4(addr);
  if (base === undefined) throw bad("give an IPv4 range like 203.0.113.0/24");
  const bits = len === undefined ? 32 : /^\d{1,2}$/.test(len) ? Number(len) : Number.NaN;
  if (!(bits >= 0 && bits <= 32)) throw bad("the prefix length must be 0 to 32");
  if ((base & ~mask(bits)) >>> 0 !== 0) {
    const net = formatIpv4((base & mask(bits)) >>> 0);
    throw bad(`has bits set past its prefix length; did you mean ${net}/${bits}?`);
  }
  return { base, bits };
}

export function formatCidr(c: Cidr): string {
  return `${formatIpv4(c.base)}/${c.bits}`;
}

/** Whether two ranges share any address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  const m = mask(Math.min(a.bits, b.bits));
  return (a.base & m) >>> 0 === (b.base & m) >>> 0;
}

/** Whether an address lies in a range. */
export function contains(c: Cidr, address: number): boolean {
  return (address & mask(c.bits)) >>> 0 === c.base;
}

/** Checks `--egress-allow` ranges: valid, and none opens what must stay closed. */
export function checkEgressAllow(list: readonly string[], flag = "--egress-allow"): string[] {
  return list.map((text) => {
    const c = parseCidr(text, flag);
    for (const n of neverAllowed) {
      if (overlaps(c, parseCidr(n.cidr, "built-in")))
        throw new AteError(
          Code.InvalidArgument,
          `${flag} ${JSON.stringify(text)}: overlaps ${n.what}, which actors may never reach; allow only ranges outside it`,
        );
    }
    return formatCidr(c);
  });
}

/** Checks `--egress-deny` ranges (any valid IPv4 range). */
export function checkEgressDeny(list: readonly string[], flag = "--egress-deny"): string[] {
  return list.map((text) => formatCidr(parseCidr(text, flag)));
}
