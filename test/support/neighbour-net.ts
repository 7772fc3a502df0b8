// A neighbour on the node's network for attack tests, made entirely by the test: a network
// namespace on the documentation range 203.0.113.0/24 behind a veth from the host (host side
// 203.0.113.1) that routes a node's worker range (169.254.<subnet>.0/24) to the host, as a
// machine on the node's L2 could. It sends only to the host's own addresses (its worker links)
// and to namespaces the test made; makeNeighbour checks the routes before anything is sent.
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** A DNS query for `name` (A, IN) with message id `id`. */
export function query(id: number, name: string): Buffer {
  const labels = name.split(".").flatMap((l) => [Buffer.from([l.length]), Buffer.from(l)]);
  const header = Buffer.from([id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}

/** The neighbour: a namespace on 203.0.113.0/24 behind a veth, routing a worker range to the node. */
export const neighbour = { ns: "atkn-ns", veth: "atkn0", host: "203.0.113.1", self: "203.0.113.2" };

export function removeNeighbour() {
  for (const args of [
    ["link", "del", neighbour.veth],
    ["netns", "del", neighbour.ns],
  ])
    try {
      execFileSync("ip", args, { stdio: "ignore" });
    } catch {
      // not there
    }
}

export function makeNeighbour(subnetBase: number): void {
  removeNeighbour();
  const ip = (...args: string[]) => execFileSync("ip", args, { encoding: "utf8" });
  const taken = ip("-j", "-4", "addr", "show", "to", "203.0.113.0/24").trim();
  assert.ok(taken === "[]" || taken === "", `203.0.113.0/24 is in use on this machine: ${taken}`);
  ip("netns", "add", neighbour.ns);
  ip("link", "add", neighbour.veth, "type", "veth", "peer", "name", "eth0", "netns", neighbour.ns);
  ip("addr", "add", `${neighbour.host}/24`, "dev", neighbour.veth);
  ip("link", "set", neighbour.veth, "up");
  ip("-n", neighbour.ns, "addr", "add", `${neighbour.self}/24`, "dev", "eth0");
  ip("-n", neighbour.ns, "link", "set", "eth0", "up");
  ip("-n", neighbour.ns, "route", "add", `169.254.${subnetBase}.0/24`, "via", neighbour.host);
  // The neighbour sends only to this test's node (its own link addresses), through its veth.
  const route = JSON.parse(
    ip("-n", neighbour.ns, "-j", "route", "get", `169.254.${subnetBase}.1`),
  )[0];
  assert.equal(route?.gateway, neighbour.host);
  assert.equal(JSON.parse(ip("-j", "route", "get", neighbour.self))[0]?.dev, neighbour.veth);
}

/** Runs a Node script in the neighbour's namespace (without blocking this process's relays). */
export async function fromNeighbour(script: string): Promise<string> {
  const { stdout } = await execFileAsync(
    "ip",
    ["netns", "exec", neighbour.ns, process.execPath, "-e", script],
    {
      timeout: 15_000,
    },
  );
  return stdout.trim();
}

/** A script asking a DNS server at address:53 over UDP: "answered" or "silent" after ms. */
export const udpAsk = (address: string, ms: number) => `
const s = require("dgram").createSocket("udp4");
s.on("message", () => { console.log("answered"); process.exit(0); });
s.send(Buffer.from(${JSON.stringify([...query(7, "outside.test")])}), 53, ${JSON.stringify(address)});
setTimeout(() => { console.log("silent"); process.exit(0); }, ${ms});`;

/** A script connecting over TCP: "connected", an error code, or "timeout" after ms. */
export const tcpConnect = (address: string, port: number, ms: number) => `
const c = require("net").connect(${port}, ${JSON.stringify(address)});
c.on("connect", () => { console.log("connected"); process.exit(0); });
c.on("error", (e) => { console.log(e.code); process.exit(0); });
setTimeout(() => { console.log("timeout"); process.exit(0); }, ${ms});`;
