// The ate dashboard: plain JavaScript, no build step. Everything shown is set as text
// (textContent, SVG attributes): names, atespaces and exit messages come from users and
// actors, and never become markup. The page's CSP also forbids inline script.

const tokenKey = "ate.token";
const $ = (id) => document.getElementById(id);
let stream; // the AbortController of the open event stream

/** One table cell with `text` in it (always as text). */
function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text === undefined || text === null ? "" : String(text);
  if (cls) td.className = cls;
  return td;
}

function ago(ms, now) {
  if (ms === undefined) return "";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  return `${Math.floor(s / 3600)}h ago`;
}

function bytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** Its type and scope; its size and age when the manifest was read (else when it was seen). */
function snapshotText(s, now) {
  const parts = [`${s.type} ${s.scope}`];
  if (s.bytes !== undefined) parts.push(bytes(s.bytes));
  const at = s.createdAt ?? s.seenAt;
  if (at !== undefined) parts.push(ago(at, now));
  return parts.join(", ");
}

const took = (ms) =>
  ms === undefined ? "" : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`;

function fill(tbody, rows) {
  tbody.replaceChildren(
    ...rows.map((cells) => {
      const tr = document.createElement("tr");
      tr.append(...cells);
      return tr;
    }),
  );
}

function render(view) {
  const now = view.now;
  const actors = [...view.actors].sort(
    (a, b) => a.atespace.localeCompare(b.atespace) || a.actorId.localeCompare(b.actorId),
  );
  $("actor-count").textContent = view.truncated
    ? `(the first ${actors.length}; more are not shown)`
    : `(${actors.length})`;
  fill(
    $("actors").tBodies[0],
    actors.map((a) => {
      const status = cell(a.transition ? `${a.status} (${a.transition})` : a.status, "status");
      status.classList.add(a.status);
      if (a.tier === "frozen") status.textContent += " · frozen";
      const snap = a.snapshot ? snapshotText(a.snapshot, now) : "";
      const row = [
        cell(a.atespace),
        cell(a.actorId),
        cell(a.template),
        status,
        cell(a.worker ? `${a.pool}/${a.worker}` : ""),
        cell(a.node),
        cell(ago(a.lastActiveAt, now)),
        cell(snap),
        cell(a.lastExit ? `${a.lastExit.reason}: ${a.lastExit.message}` : "", "wrap"),
      ];
      row[1].dataset.actor = `${a.atespace}/${a.actorId}`;
      return row;
    }),
  );
  $("pools-box").hidden = !view.pools;
  if (view.pools)
    fill(
      $("pools").tBodies[0],
      view.pools.map((p) => [cell(p.pool), cell(p.free), cell(p.assigned)]),
    );
  fill(
    $("transitions").tBodies[0],
    view.transitions.map((t) => [
      cell(new Date(t.at).toLocaleTimeString()),
      cell(t.actor),
      cell(t.from),
      cell(t.to),
      cell(took(t.durationMs)),
    ]),
  );
  chart(view.activations);
}

/** Bars: activations per slice; line: their mean latency; both scaled to the busiest slice. */
function chart(buckets) {
  const svg = $("chart");
  const ns = "http://www.w3.org/2000/svg";
  const el = (name, attrs, text) => {
    const e = document.createElementNS(ns, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const w = 600;
  const h = 140;
  const left = 40;
  const slot = (w - left) / Math.max(1, buckets.length);
  const maxCount = Math.max(1, ...buckets.map((b) => b.count));
  const maxMs = Math.max(1, ...buckets.map((b) => b.meanMs));
  const parts = [
    el("text", { x: 2, y: 12, class: "axis" }, `${maxCount}/10s`),
    el("text", { x: 2, y: 26, class: "axis" }, took(maxMs)),
    el("text", { x: left, y: h + 14, class: "axis" }, "-5m"),
    el("text", { x: w - 24, y: h + 14, class: "axis" }, "now"),
  ];
  const points = [];
  buckets.forEach((b, i) => {
    const x = left + i * slot;
    const bh = (b.count / maxCount) * (h - 10);
    const bar = el("rect", {
      x: x + 1,
      y: h - bh,
      width: Math.max(1, slot - 2),
      height: bh,
      class: "bar",
    });
    bar.append(
      el("title", {}, `${b.count} activations, mean ${took(b.meanMs)}, max ${took(b.maxMs)}`),
    );
    parts.push(bar);
    if (!b.count) return;
    const cx = x + slot / 2;
    const cy = h - (b.meanMs / maxMs) * (h - 10);
    points.push(`${cx},${cy}`);
    parts.push(el("circle", { cx, cy, r: 2.5, class: "point" }));
  });
  if (points.length) parts.push(el("polyline", { points: points.join(" "), class: "line" }));
  svg.replaceChildren(...parts);
}

function showLogin(message) {
  if (stream) stream.abort();
  $("board").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("state").textContent = "";
}

/** Reads the server-sent events from a fetch (EventSource cannot send a header). */
async function connect(token) {
  stream = new AbortController();
  const signal = stream.signal;
  $("state").textContent = "connecting…";
  let res;
  try {
    res = await fetch("/ui/api/events", { headers: { authorization: `Bearer ${token}` }, signal });
  } catch (err) {
    if (!signal.aborted) retry(token, `cannot reach the API: ${err}`);
    return;
  }
  if (res.status === 401 || res.status === 403) {
    sessionStorage.removeItem(tokenKey);
    let msg = `refused (${res.status})`;
    try {
      msg = (await res.json()).message || msg;
    } catch {}
    return showLogin(msg);
  }
  if (!res.ok || !res.body) return retry(token, `the API answered ${res.status}`);
  $("login").hidden = true;
  $("board").hidden = false;
  $("logout").hidden = false;
  $("state").textContent = "live";
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end = buffer.indexOf("\n\n");
      while (end >= 0) {
        handle(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf("\n\n");
      }
    }
  } catch {}
  if (!signal.aborted) retry(token, "the stream ended");
}

function handle(message) {
  let event = "message";
  let data = "";
  for (const line of message.split("\n")) {
    if (line.startsWith("event: ")) event = line.slice(7);
    else if (line.startsWith("data: ")) data += line.slice(6);
  }
  if (event === "view") render(JSON.parse(data));
  else if (event === "failed") $("state").textContent = `stream failed: ${JSON.parse(data)}`;
}

function retry(token, why) {
  $("state").textContent = `${why}; reconnecting…`;
  setTimeout(() => {
    if (sessionStorage.getItem(tokenKey) === token) connect(token);
  }, 2000);
}

$("login").addEventListener("submit", (e) => {
  e.preventDefault();
  const token = $("token").value.trim();
  $("token").value = "";
  sessionStorage.setItem(tokenKey, token);
  connect(token);
});
$("logout").addEventListener("click", () => {
  sessionStorage.removeItem(tokenKey);
  showLogin("");
});
const saved = sessionStorage.getItem(tokenKey);
if (saved) connect(saved);
else showLogin("");
