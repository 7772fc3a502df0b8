// The self-suspend demo: an actor that works on a job, keeps its progress only in memory,
// suspends itself through the Control API with its own token when it has done a share of
// the work, and carries on from where it was on the next request, on whichever worker ate
// restores it. ate writes who it is and how to reach the API into /run/ate at every start:
// `actor-id`, `atespace`, `api` (the address) and `token` (a credential for this actor only,
// new at every start).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, request, type ServerResponse } from "node:http";

const port = Number(process.env.PORT ?? 8080);
const startedAt = new Date().toISOString();

/** What ate wrote into /run/ate for this start (read each time: a restore rewrites it). */
function identity(name: "actor-id" | "atespace" | "api" | "token"): string {
  try {
    return readFileSync(`/run/ate/${name}`, "utf8").trim();
  } catch {
    return "";
  }
}

/** The job, in memory only: what a checkpoint keeps and a restore brings back. */
interface Job {
  steps: number;
  done: number;
  /** A chain of sha256 over the steps: the result, and proof no step ran twice or was lost. */
  digest: string;
  /** How many times the actor suspended itself during the job. */
  suspensions: number;
  /** The token the actor had when the job started (it changes with every restore). */
  tokenAtStart: string;
}
let job: Job | undefined;

function work(j: Job, until: number): void {
  for (; j.done < until; j.done++)
    j.digest = createHash("sha256").update(`${j.digest}:${j.done}`).digest("hex");
}

interface Answer {
  status: number;
  body: string;
}

/**
 * One Control API call as the actor itself: Connect JSON over plain HTTP/1.1 to the address in
 * /run/ate/api, with the token in /run/ate/token. A new connection each time (agent: false):
 * after a restore, a kept-alive one would lead nowhere.
 */
function callApi(
  method: string,
  body: unknown,
  o: { token?: string; pad?: number; path?: string } = {},
): Promise<Answer> {
  const api = new URL(identity("api") || "http://10.88.0.1");
  let payload = JSON.stringify(body);
  if (o.pad) payload = JSON.stringify({ ...(body as object), pad: "x".repeat(o.pad) });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: api.hostname,
        port: api.port || 80,
        method: "POST",
        path: o.path ?? `/ateapi.Control/${method}`,
        agent: false,
        headers: {
          "content-type": "application/json",
          "connect-protocol-version": "1",
          authorization: `Bearer ${o.token ?? identity("token")}`,
        },
      },
      (res) => {
        let text = "";
        res.on("data", (d) => {
          text += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    // A suspend of itself never hears back: ate closes the actor's API connections just
    // before its checkpoint, with the call under way (the suspend goes on regardless).
    req.setTimeout(120_000, () => req.destroy(new Error("no answer in 120 s")));
    req.on("error", reject);
    req.end(payload);
  });
}

const self = () => ({ actorRef: { atespace: identity("atespace"), name: identity("actor-id") } });

function suspendSelf(): void {
  const before = identity("token");
  console.log("yielding: suspending myself through the Control API");
  callApi("SuspendActor", self()).then(
    // An answer means it did not happen (e.g. refused): a suspend of itself is never answered.
    (a) => console.log(`suspend answered ${a.status}: ${a.body.slice(0, 200)}`),
    (err: Error) =>
      console.log(
        identity("token") !== before
          ? "restored; the suspend call had been cut off"
          : `the suspend call was cut off (${err.message}): ate closes an actor's API connections before its checkpoint`,
      ),
  );
}

const short = (token: string) =>
  token ? createHash("sha256").update(token).digest("hex").slice(0, 12) : "";

/** An answer's body as JSON when it is (the API's and the gateway's are), else as text. */
function parsed(text: string): unknown {
  try {
    return JSON.parse(text || "{}");
  } catch {
    return text;
  }
}

function send(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(`${JSON.stringify(value)}\n`);
}

async function readBody(req: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 64 * 1024) break;
  }
  return text;
}

function jobView(j: Job) {
  return {
    steps: j.steps,
    done: j.done,
    suspensions: j.suspensions,
    digest: j.done === j.steps ? j.digest : undefined,
    tokenChanged: identity("token") !== j.tokenAtStart,
  };
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://actor");
  if (url.pathname === "/readyz") return void res.end("ok\n");
  if (url.pathname === "/job" && req.method === "POST") {
    // A new job: half of it now, then the actor suspends itself; the rest on the next request.
    const steps = Math.min(Math.max(Number(url.searchParams.get("steps") ?? 1000) || 0, 2), 1e7);
    job = { steps, done: 0, digest: "", suspensions: 0, tokenAtStart: identity("token") };
    work(job, Math.floor(steps / 2));
    job.suspensions++;
    console.log(`job: ${job.done}/${steps} steps done, progress kept in memory`);
    res.on("finish", suspendSelf); // answered first, then it yields its worker
    return send(res, 202, { state: "suspending", ...jobView(job) });
  }
  if (url.pathname === "/job") {
    if (!job) return send(res, 404, { error: "no job: POST /job?steps=N starts one" });
    work(job, job.steps); // carried on where the memory left it
    console.log(`job: ${job.done}/${job.steps} steps done`);
    return send(res, 200, { state: "done", ...jobView(job) });
  }
  if (url.pathname === "/whoami") {
    const a = await callApi("GetActor", self());
    return send(res, 200, {
      actor: identity("actor-id"),
      atespace: identity("atespace"),
      api: identity("api"),
      token: short(identity("token")),
      startedAt,
      getActor: { status: a.status, body: parsed(a.body) },
    });
  }
  // Explore what the actor's token may do: POST /api/<Method> with a Connect JSON body is
  // sent as-is with the actor's token (`?token=start` sends the one the job started with,
  // `?token=tampered` a forged one, `?token=T` the token T, `?pad=N` pads the body with N bytes, `?path=P` posts to
  // path P of the API address instead, `?burst=N` makes N such calls at once).
  const call = /^\/api\/([A-Za-z]+)$/.exec(url.pathname);
  if (call && req.method === "POST") {
    const which = url.searchParams.get("token");
    const current = identity("token");
    const token =
      which === "start"
        ? (job?.tokenAtStart ?? current)
        : which === "tampered"
          ? current.replace(/.$/, current.endsWith("0") ? "1" : "0")
          : which || current;
    const pad = Number(url.searchParams.get("pad") ?? 0) || 0;
    const path = url.searchParams.get("path") ?? undefined;
    const body = parsed(await readBody(req));
    const once = () =>
      callApi(call[1] as string, body, { token, pad, ...(path ? { path } : {}) }).catch(
        (err: Error) => ({ status: 0, body: JSON.stringify({ error: err.message }) }),
      );
    const burst = Math.min(Number(url.searchParams.get("burst") ?? 0) || 0, 200);
    if (burst > 1) {
      // N calls at once: how many each status answered (the gateway's limits show as 429).
      const statuses: Record<string, number> = {};
      for (const a of await Promise.all(Array.from({ length: burst }, once)))
        statuses[a.status] = (statuses[a.status] ?? 0) + 1;
      return send(res, 200, { statuses });
    }
    const a = await once();
    return send(res, 200, { status: a.status, body: parsed(a.body) });
  }
  send(res, 404, { error: "try POST /job?steps=N, GET /job, GET /whoami or POST /api/<Method>" });
}

createServer((req, res) => {
  handle(req, res).catch((err: Error) => send(res, 500, { error: err.message }));
}).listen(port, () => console.log(`self-suspend listening on :${port}`));
