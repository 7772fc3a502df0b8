import { accessSync, constants, realpathSync } from "node:fs";
import { BlockList, isIP } from "node:net";
import { networkInterfaces } from "node:os";
import { delimiter, dirname, join } from "node:path";
import type { FileAccess, HttpAccess } from "../../blob/index.ts";
import { AteError, Code } from "../../errors/index.ts";

/** What a node admin allows assets to be fetched from (`ate up --asset-dir/--asset-allow-host`). */
export interface AssetAccessOptions {
  /**
   * Directories file:// assets may be read from. Default: the directory of this machine's
   * runsc (the first on PATH), the one `ate up`'s default runtime names.
   */
  fileDirs?: readonly string[];
  /**
   * http(s) hosts (names or IPs, as written in the url) that may be reached even at a
   * loopback, link-local, unspecified, node or worker address.
   */
  allowHosts?: readonly string[];
  /**
   * Bearer tokens for asset origins, e.g. `{ url: "http://10.0.0.1:7443", token }`: the control
   * plane, whose /assets/sha256/<hex> route serves the runtimes it declared to node tokens.
   * Sent as `authorization: Bearer <token>` to that origin only (scheme, host and port alike;
   * never to a redirect's target elsewhere). Each origin's host is also allowed as by
   * `allowHosts`: a control plane on loopback or on this node's own address is still reached.
   */
  bearerTokens?: readonly AssetBearerToken[];
  /** More addresses off limits, asked at each fetch (the node's workers). */
  blockedAddresses?: () => Iterable<string>;
  /** Until the TCP connection stands. Default 10 s. */
  connectTimeoutMs?: number;
}

export interface AssetBearerToken {
  /** An http(s) url; only its origin counts. */
  url: string;
  token: string;
}

/** The flags that widen access, named in refusals. */
export const assetDirFlag = "ate up --asset-dir DIR";
export const assetAllowHostFlag = "ate up --asset-allow-host HOST";

const special = new BlockList();
special.addSubnet("127.0.0.0", 8, "ipv4");
special.addSubnet("0.0.0.0", 8, "ipv4");
special.addSubnet("169.254.0.0", 16, "ipv4");
special.addAddress("::1", "ipv6");
special.addAddress("::", "ipv6");
special.addSubnet("fe80::", 10, "ipv6");

/** Cloud instance metadata that does not live at a link-local address (AWS IPv6, Alibaba). */
const metadata = new BlockList();
metadata.addAddress("fd00:ec2::254", "ipv6");
metadata.addAddress("100.100.100.200", "ipv4");

/**
 * IPv6 prefixes whose last 32 bits are an IPv4 address that the kernel or a NAT64 gateway may
 * reach in its place (IPv4-compatible, IPv4-translated, NAT64 well-known): checked as that IPv4.
 */
const ipv4Embedding = /^(?:::|::ffff:0:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

/**
 * Why an address is no place to fetch an asset from, or undefined. Loopback, unspecified and
 * link-local addresses (169.254/16 is also where this node's workers live), the node's own
 * addresses and its workers' are refused: an asset url must not make the node agent (root)
 * call services that trust local callers, its own API and router included.
 */
export function forbiddenAddress(
  address: string,
  blocked: Iterable<string> = [],
): string | undefined {
  const canonical = canonicalIp(address);
  if (!canonical) return "is not an IP address";
  const embedded = ipv4Embedding.exec(canonical);
  const a = embedded ? ipv4Of(embedded[1] as string, embedded[2] as string) : canonical;
  const family = isIP(a) === 4 ? "ipv4" : "ipv6";
  if (metadata.check(a, family)) return "is a cloud metadata address";
  if (special.check(a, family)) {
    if (a.startsWith("127.") || a === "::1") return "is a loopback address";
    if (a.startsWith("0.") || a === "::") return "is an unspecified address";
    return "is a link-local address (where this node's workers live, too)";
  }
  for (const b of blocked) if (canonicalIp(b) === a) return "is one of this node's workers";
  for (const list of Object.values(networkInterfaces()))
    for (const i of list ?? [])
      if (canonicalIp(i.address.replace(/%.*$/, "")) === a) return "is an address of this node";
  return undefined;
}

/**
 * An IP in one spelling: IPv4 dotted, IPv6 compressed lower case, IPv4-mapped IPv6
 * (`::ffff:127.0.0.1`, `::ffff:7f00:1`) as the IPv4 it maps; undefined for non-IPs.
 */
export function canonicalIp(address: string): string | undefined {
  const bare = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const kind = isIP(bare);
  if (kind === 4) return bare;
  if (kind !== 6) return undefined;
  const compressed = new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(compressed);
  return mapped ? ipv4Of(mapped[1] as string, mapped[2] as string) : compressed;
}

/** The IPv4 address two IPv6 hex groups spell. */
function ipv4Of(hiHex: string, loHex: string): string {
  const hi = Number.parseInt(hiHex, 16);
  const lo = Number.parseInt(loHex, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** The directory of the first runsc on PATH, as a real path; none when there is no runsc. */
export function machineRunscDirs(path = process.env.PATH ?? ""): string[] {
  for (const dir of [
    ...path.split(delimiter),
    "/usr/local/sbin",
    "/usr/sbin",
    "/sbin",
    "/usr/bin",
  ]) {
    if (!dir) continue;
    try {
      accessSync(join(dir, "runsc"), constants.X_OK);
      return [dirname(realpathSync(join(dir, "runsc")))];
    } catch {}
  }
  return [];
}

/** The file and http access rules the asset cache hands to openUrl. */
export function assetAccess(o: AssetAccessOptions): { file: FileAccess; http: HttpAccess } {
  const fileDirs = o.fileDirs ?? machineRunscDirs();
  const tokens = new Map((o.bearerTokens ?? []).map((t) => [originOf(t.url), checkToken(t)]));
  const allowed = new Set(
    [...(o.allowHosts ?? []), ...[...tokens.keys()].map((u) => new URL(u).hostname)].map(hostKey),
  );
  return {
    file: { allowedDirs: fileDirs, hint: assetDirFlag },
    http: {
      refuse(host, address) {
        if (allowed.has(hostKey(host))) return undefined;
        const why = forbiddenAddress(address, o.blockedAddresses?.() ?? []);
        return (
          why &&
          `${why}: assets are not fetched from it unless the node admin allows the host with ${assetAllowHostFlag.replace("HOST", host)}`
        );
      },
      ...(o.connectTimeoutMs !== undefined ? { connectTimeoutMs: o.connectTimeoutMs } : {}),
      ...(tokens.size
        ? {
            headers: (url: URL) => {
              const token = tokens.get(url.origin);
              return token ? { authorization: `Bearer ${token}` } : undefined;
            },
          }
        : {}),
    },
  };
}

/** An http(s) url's origin (`http://host:port`, default ports dropped), or a clear error. */
function originOf(url: string): string {
  let u: URL | undefined;
  try {
    u = new URL(url);
  } catch {}
  if (!u || (u.protocol !== "http:" && u.protocol !== "https:"))
    throw new AteError(
      Code.InvalidArgument,
      `asset bearer token url ${JSON.stringify(url)}: give the http(s) url of the server it is for, e.g. http://10.0.0.1:7443`,
    );
  return u.origin;
}

/** The token, when it can go in a header as is (no spaces, no line breaks). */
function checkToken(t: AssetBearerToken): string {
  if (!/^[\x21-\x7e]{1,4096}$/.test(t.token))
    throw new AteError(
      Code.InvalidArgument,
      `the asset bearer token for ${t.url} is empty, too long or has spaces or control characters: give the token's text as ate create token printed it`,
    );
  return t.token;
}

function hostKey(host: string): string {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, "")
    .replace(/\.$/, "");
  return canonicalIp(h) ?? h;
}
