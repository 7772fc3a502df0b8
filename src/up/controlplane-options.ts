import { AteError, Code } from "../errors/index.ts";
import { parseAddr } from "./listen.ts";

/** What ate controlplane and ate up assume when nothing is said (compiled once, in compile). */
export const controlPlaneDefaults = {
  apiAddr: "127.0.0.1:7443",
  resyncMs: 10_000,
  leaseName: "controllers",
  leaseTtlMs: 10_000,
} as const;

/** A control plane's options, checked and with defaults filled in. */
export interface Compiled {
  apiAddr: { host: string; port: number };
  shared: boolean;
  resyncMs: number;
  leaseTtlMs: number;
}

/** Checks a control plane's options before anything starts (see ControlPlaneComponentOptions). */
export function compile(o: {
  apiAddr?: string;
  advertiseUrl?: string;
  records?: string;
  resyncMs?: number;
  leaseTtlMs?: number;
}): Compiled {
  const apiAddr = parseAddr(o.apiAddr ?? controlPlaneDefaults.apiAddr, "--api-addr");
  if (o.advertiseUrl !== undefined) checkAdvertiseUrl(o.advertiseUrl);
  else if (isUnspecified(apiAddr.host))
    throw new AteError(
      Code.InvalidArgument,
      `--api-addr ${apiAddr.host}:${apiAddr.port} listens on every address, so it names none nodes and routers could use: give --advertise-url, the API's URL as they reach it (e.g. http://10.0.0.2:${apiAddr.port || 7443})`,
    );
  return {
    apiAddr,
    shared: /^rediss?:\/\//.test(o.records ?? ""),
    resyncMs: o.resyncMs ?? controlPlaneDefaults.resyncMs,
    leaseTtlMs: o.leaseTtlMs ?? controlPlaneDefaults.leaseTtlMs,
  };
}

function isUnspecified(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "[::]" || host === "";
}

/** An http(s) URL with a host and nothing after it but a port (and a trailing slash). */
function checkAdvertiseUrl(u: string): void {
  let url: URL | undefined;
  try {
    url = new URL(u);
  } catch {}
  const ok =
    url &&
    (url.protocol === "http:" || url.protocol === "https:") &&
    url.hostname &&
    !isUnspecified(url.hostname) &&
    !url.username &&
    !url.password &&
    (url.pathname === "/" || url.pathname === "") &&
    !url.search &&
    !url.hash;
  if (!ok)
    throw new AteError(
      Code.InvalidArgument,
      `--advertise-url ${JSON.stringify(u.slice(0, 200))}: give the API's base URL as nodes and routers reach it, e.g. http://10.0.0.2:7443 (http or https, a host other than 0.0.0.0, no path)`,
    );
}
