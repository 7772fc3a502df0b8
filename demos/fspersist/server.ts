// The fspersist demo: each request adds a line to $DATA_DIR/history (a durableDir) and one to
// a counter kept only in memory, and answers both. Two templates run this one image:
// `fspersist` (snapshotsConfig.onCommit: Data) keeps only the durableDir when suspended, so
// its actors come back with their history but the memory of a fresh start; `fsfull` (Full,
// the default) keeps memory too. `bootId` is made once per process start: it tells which
// start the memory an actor answers from comes from.

import { randomUUID } from "node:crypto";
import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { hostname } from "node:os";

const port = Number(process.env.PORT ?? 8080);
const dataDir = process.env.DATA_DIR ?? "/data";
const template = process.env.TEMPLATE ?? "fspersist";
const bootId = randomUUID();
let memory = 0;

mkdirSync(dataDir, { recursive: true });

/** Who this actor is: ate writes the id into every actor it starts (read on each request: a
 * template's actors all start from its golden snapshot's memory, taken before they had one). */
function actorId(): string {
  try {
    return readFileSync("/run/ate/actor-id", "utf8").trim();
  } catch {
    return hostname();
  }
}

function history(): string[] {
  try {
    return readFileSync(`${dataDir}/history`, "utf8").split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

const server = createServer((req, res) => {
  const path = new URL(req.url ?? "/", "http://actor").pathname;
  if (path === "/readyz") {
    res.end("ok\n");
    return;
  }
  if (path !== "/") {
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("try / (adds a line to the history) or /readyz\n");
    return;
  }
  memory++;
  const line = `${history().length + 1} ${template} memory=${memory} at ${new Date().toISOString()}`;
  appendFileSync(`${dataDir}/history`, `${line}\n`);
  const body = { actor: actorId(), template, memory, bootId, history: history() };
  res.writeHead(200, { "content-type": "application/json" });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
});

server.listen(port, () => console.log(`fspersist (${template}) listening on :${port}`));
