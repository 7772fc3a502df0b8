import { isDNS1123Label } from "../api/names/index.ts";

export interface ActorAddress {
  atespace: string;
  actor: string;
  /** The path to forward (with query), e.g. `/count?x=1`. */
  path: string;
}

export type Resolution =
  | { ok: true; target: ActorAddress }
  | { ok: false; status: number; reason: string };

/**
 * Where a request goes: `<actor>.<atespace>.actors.<domain>` in the Host header (a port and a
 * trailing dot allowed), or the path form `/actors/<atespace>/<actor>/...` for clients that
 * cannot set Host. Anything else is refused with a short explanation.
 */
export function resolveActor(
  host: string | undefined,
  url: string | undefined,
  domain: string,
): Resolution {
  const rawPath = url ?? "/";
  if (!rawPath.startsWith("/"))
    return { ok: false, status: 400, reason: "the request target must be an absolute path" };
  const h = (host ?? "").toLowerCase().replace(/:\d+$/, "").replace(/\.$/, "");
  const suffix = `.actors.${domain}`;
  if (h.endsWith(suffix)) {
    const labels = h.slice(0, -suffix.length).split(".");
    if (labels.length !== 2)
      return { ok: false, status: 400, reason: `host must be <actor>.<atespace>${suffix}` };
    const [actor = "", atespace = ""] = labels;
    if (isDNS1123Label(actor).length || isDNS1123Label(atespace).length) {
      return {
        ok: false,
        status: 400,
        reason: "actor and atespace in the host must be DNS labels",
      };
    }
    return { ok: true, target: { atespace, actor, path: rawPath } };
  }
  const m = rawPath.match(/^\/actors\/([^/?#]*)\/([^/?#]*)(.*)$/);
  if (m) {
    const [, atespace = "", actor = "", rest = ""] = m;
    if (isDNS1123Label(atespace).length || isDNS1123Label(actor).length) {
      return {
        ok: false,
        status: 400,
        reason: "use /actors/<atespace>/<actor>/...: both must be DNS labels",
      };
    }
    const path = rest === "" || rest.startsWith("?") ? `/${rest}` : rest;
    const pathOnly = path.split("?")[0] ?? "";
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathOnly);
    } catch {
      return { ok: false, status: 400, reason: "malformed percent-encoding in the path" };
    }
    if (decoded.split("/").some((s) => s === ".." || s === ".") || decoded.includes("\\")) {
      return { ok: false, status: 400, reason: "the path may not contain '.' or '..' segments" };
    }
    return { ok: true, target: { atespace, actor, path } };
  }
  return {
    ok: false,
    status: 404,
    reason: `no actor here: address actors as <actor>.<atespace>${suffix} or /actors/<atespace>/<actor>/`,
  };
}
