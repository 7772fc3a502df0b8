// The counter demo: an HTTP server with two counters. `memory` lives only in the process;
// `file` is kept in $DATA_DIR/count, a durableDir. ate checkpoints the whole process, so
// after a suspend and a resume, on any worker, both carry on from where they were.
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { hostname } from "node:os";

const port = Number(process.env.PORT ?? 8080);
const dataDir = process.env.DATA_DIR ?? "/data";
const startedAt = new Date().toISOString();
let memory = 0;

function readFileCount(): number {
  try {
    return Number(readFileSync(`${dataDir}/count`, "utf8")) || 0;
  } catch {
    return 0;
  }
}

/** Who this actor is: ate writes the id into every actor it starts. */
function actorId(): string {
  try {
    return readFileSync("/run/ate/actor-id", "utf8").trim();
  } catch {
    return hostname();
  }
}

const server = createServer((req, res) => {
  const path = new URL(req.url ?? "/", "http://actor").pathname;
  if (path === "/readyz") {
    res.end("ok\n");
    return;
  }
  if (path !== "/" && path !== "/count") {
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("try / (counts) or /readyz\n");
    return;
  }
  memory++;
  const file = readFileCount() + 1;
  writeFileSync(`${dataDir}/count`, String(file));
  const body = { actor: actorId(), memory, file, startedAt };
  console.log(`request ${memory}: memory=${memory} file=${file}`);
  res.writeHead(200, { "content-type": "application/json" });
  res.end(`${JSON.stringify(body)}\n`);
});

server.listen(port, () => console.log(`counter listening on :${port}`));
