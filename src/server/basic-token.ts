// kubectl sends no credentials over plain HTTP (client-go applies a kubeconfig's token, basic
// auth and exec plugins only to TLS servers), yet ate's API is plain HTTP unless a TLS proxy
// fronts it. Go's HTTP client does send a URL's user info as Basic auth, so `ate kubeconfig`
// writes an http server as `http://ate:<token>@host:port`, and the edge reads the Basic
// password as the bearer token: the same token, in another header. Nothing else changes: the
// token is checked exactly as a Bearer one.

/** Longer than any Basic header carrying a token: left as is, and refused as not Bearer. */
const maxBasicLength = 1024;

/** `Basic base64(user:token)` → `Bearer token`; any other header unchanged. */
export function bearerFromBasic(header: string | undefined): string | undefined {
  if (!header || header.length > maxBasicLength) return header;
  const m = /^basic +([A-Za-z0-9+/=]+) *$/i.exec(header);
  if (!m) return header;
  const decoded = Buffer.from(m[1] as string, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  const token = colon < 0 ? "" : decoded.slice(colon + 1);
  // An empty or spaced password is no token: the header is refused as it came.
  return token && !/\s/.test(token) ? `Bearer ${token}` : header;
}
