import { request } from "node:http";

/** GET without keep-alive (nothing stays connected to a worker), returning status and body. */
export function get(url: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { agent: false, headers: { connection: "close" }, timeout: timeoutMs },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${url}`)));
    req.on("error", reject);
    req.end();
  });
}

export async function getJson<T = Record<string, unknown>>(url: string): Promise<T> {
  const { status, body } = await get(url);
  if (status !== 200) throw new Error(`${url}: HTTP ${status}: ${body}`);
  return JSON.parse(body) as T;
}
