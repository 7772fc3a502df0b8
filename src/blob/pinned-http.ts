import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { AteError, Code } from "../errors/index.ts";

/** Which http(s) destinations may be reached, and how patiently. */
export interface HttpAccess {
  /**
   * Why `address` (one the url's host resolves to, or the host itself when it is an IP) may
   * not be reached for `host`; undefined when it may.
   */
  refuse(host: string, address: string): string | undefined;
  /** Until the TCP connection stands (DNS included). Default 10 s. */
  connectTimeoutMs?: number;
  /** Redirects followed, each hop checked like the first. Default 5. */
  maxRedirects?: number;
  /**
   * More request headers for this url (e.g. a bearer token for one origin). Asked anew for
   * every hop, so a credential meant for one origin never follows a redirect to another.
   */
  headers?(url: URL): Record<string, string> | undefined;
}

export interface HttpBody {
  body: IncomingMessage;
  size?: number;
}

const redirects = new Set([301, 302, 303, 307, 308]);

/**
 * GET over http(s) where every address is checked before it is connected to: the host is
 * resolved once, every address it resolves to must pass `refuse`, and the connection goes to
 * one of exactly those addresses (no second resolution, so no DNS-rebinding gap). Redirects
 * are followed by the same rules.
 */
export async function openPinnedHttp(
  url: string,
  access: HttpAccess,
  o: { what: string; shown?: string; signal?: AbortSignal },
): Promise<HttpBody> {
  const shown = o.shown ?? url;
  let current = new URL(url);
  const max = access.maxRedirects ?? 5;
  for (let hop = 0; ; hop++) {
    const res = await get(current, access, { ...o, shown });
    const status = res.statusCode ?? 0;
    if (redirects.has(status) && res.headers.location) {
      res.resume();
      if (hop >= max)
        throw new AteError(
          Code.FailedPrecondition,
          `${o.what}: ${shown}: more than ${max} redirects; point the url at the file itself`,
        );
      const next = new URL(res.headers.location, current);
      if (next.protocol !== "http:" && next.protocol !== "https:")
        throw new AteError(
          Code.FailedPrecondition,
          `${o.what}: ${shown} redirects to ${next.href}: only http(s) redirects are followed`,
        );
      current = next;
      continue;
    }
    if (status < 200 || status > 299) {
      res.resume();
      const code =
        status === 404
          ? Code.NotFound
          : status === 401 || status === 403
            ? Code.PermissionDenied
            : Code.Unavailable;
      throw new AteError(
        code,
        `${o.what}: ${shown}: HTTP ${status} ${res.statusMessage ?? ""}`.trimEnd(),
      );
    }
    const length = Number(res.headers["content-length"]);
    return {
      body: res,
      ...(res.headers["content-length"] !== undefined && Number.isFinite(length)
        ? { size: length }
        : {}),
    };
  }
}

function get(
  url: URL,
  access: HttpAccess,
  o: { what: string; shown: string; signal?: AbortSignal },
): Promise<IncomingMessage> {
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const refused = (address: string, why: string) =>
    new AteError(
      Code.PermissionDenied,
      `${o.what}: ${o.shown}: ${url.host}${address !== host ? ` resolves to ${address}, which` : ""} ${why}; nothing was fetched`,
    );
  if (isIP(host)) {
    const why = access.refuse(host, host);
    if (why) return Promise.reject(refused(host, why));
  }
  // Node calls this for host names (IP literals were checked above): resolve once, check
  // every address, and hand back only checked ones.
  const lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(
      hostname,
      { all: true, verbatim: true, ...(options.family ? { family: options.family } : {}) },
      (err, addresses: LookupAddress[]) => {
        if (err) return callback(err, "", 0);
        for (const a of addresses) {
          const why = access.refuse(host, a.address);
          if (why)
            return callback(refused(a.address, why) as unknown as NodeJS.ErrnoException, "", 0);
        }
        const first = addresses[0];
        if (!first) return callback(new Error(`${hostname} has no address`), "", 0);
        if ((options as { all?: boolean }).all)
          (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
        else callback(null, first.address, first.family);
      },
    );
  };
  const connectMs = access.connectTimeoutMs ?? 10_000;
  return new Promise<IncomingMessage>((resolve, reject) => {
    const request = url.protocol === "https:" ? httpsRequest : httpRequest;
    const req = request(url, {
      method: "GET",
      lookup,
      agent: false,
      headers: { ...access.headers?.(url), "accept-encoding": "identity" },
      ...(o.signal ? { signal: o.signal } : {}),
    });
    const timer = setTimeout(() => {
      req.destroy(
        new AteError(
          Code.DeadlineExceeded,
          `${o.what}: ${o.shown}: no connection to ${url.host} within ${connectMs / 1000} s (connect timeout); nothing was fetched`,
        ),
      );
    }, connectMs);
    timer.unref();
    req.on("socket", (socket) => {
      if (socket.connecting) socket.once("connect", () => clearTimeout(timer));
      else clearTimeout(timer);
    });
    req.on("response", (res) => {
      clearTimeout(timer);
      resolve(res);
    });
    req.on("error", (err) => {
      clearTimeout(timer);
      reject(
        err instanceof AteError
          ? err
          : new AteError(
              Code.Unavailable,
              `${o.what}: ${o.shown}: cannot be reached: ${err.message}`,
              [],
              { cause: err },
            ),
      );
    });
    req.end();
  });
}
