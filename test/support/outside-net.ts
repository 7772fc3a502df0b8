// An "outside world" for egress tests, made entirely by the test: a network namespace on the
// documentation range 198.51.100.0/24 behind a veth from the host (host side 198.51.100.1),
// with an HTTP server and dnsmasq (outside.test → 198.51.100.2) in it, and a private address
// (10.203.0.2, routed from the host into the namespace) with an HTTP server of its own.
// Nothing is sent anywhere until `ip route get` shows both ranges lead into this namespace.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface OutsideNet {
  ns: string;
  /** The host's own address on the link into the namespace. */
  hostAddress: string;
  /** The outside server (HTTP on port 80) and DNS server (port 53). */
  address: string;
  /** A private address inside the namespace, HTTP on port 80. */
  privateAddress: string;
  privateRange: string;
  /** The name dnsmasq answers with `address`. */
  name: string;
  stop(): Promise<void>;
}

const ip = (...args: string[]) => execFileSync("ip", args, { encoding: "utf8" });
const quietly = (fn: () => unknown) => {
  try {
    fn();
  } catch {
    // already gone
  }
};

/** The interface `ip route get` sends an address out of. */
function routeDevice(address: string): string | undefined {
  return (JSON.parse(ip("-j", "route", "get", address)) as { dev?: string }[])[0]?.dev;
}

// The server inside the namespace answers which of its addresses was reached and from where.
const server = `
const http = require("node:http");
let listening = 0;
for (const [host, who] of process.argv.slice(1).map((a) => a.split("="))) {
  http
    .createServer((req, res) => res.end(JSON.stringify({ who, from: req.socket.remoteAddress })))
    .listen(80, host, () => ++listening === 2 && console.log("ready"));
}`;

export async function startOutsideNet(name = "ateout"): Promise<OutsideNet> {
  const ns = `${name}-ns`;
  const veth = `${name}0`;
  const net = {
    hostAddress: "198.51.100.1",
    address: "198.51.100.2",
    privateAddress: "10.203.0.2",
    privateRange: "10.203.0.0/24",
  };
  const dir = mkdtempSync(join(tmpdir(), "ate-outside-"));
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null && c.pid) {
        const exited = new Promise((r) => c.once("exit", r));
        process.kill(c.pid, "SIGTERM");
        const bound = new AbortController(); // no timer left once it exited
        await Promise.race([
          exited,
          sleep(5000, undefined, { signal: bound.signal }).catch(() => {}),
        ]);
        bound.abort();
      }
    }
    quietly(() => ip("route", "del", net.privateRange, "via", net.address, "dev", veth));
    quietly(() => ip("link", "del", veth));
    quietly(() => ip("netns", "del", ns));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Leftovers of an interrupted run of this same test.
    quietly(() => ip("link", "del", veth));
    quietly(() => ip("netns", "del", ns));
    const taken = ip("-j", "-4", "addr", "show", "to", "198.51.100.0/24").trim();
    if (taken !== "[]" && taken !== "")
      throw new Error(`198.51.100.0/24 is already on an interface of this machine: ${taken}`);
    ip("netns", "add", ns);
    ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns);
    ip("addr", "add", `${net.hostAddress}/24`, "dev", veth);
    ip("link", "set", veth, "up");
    ip("-n", ns, "addr", "add", `${net.address}/24`, "dev", "eth0");
    ip("-n", ns, "addr", "add", `${net.privateAddress}/32`, "dev", "lo");
    ip("-n", ns, "link", "set", "eth0", "up");
    ip("-n", ns, "link", "set", "lo", "up");
    ip("route", "add", net.privateRange, "via", net.address, "dev", veth);
    for (const a of [net.address, net.privateAddress, "198.51.100.200"]) {
      const dev = routeDevice(a);
      if (dev !== veth)
        throw new Error(`${a} is routed via ${dev}, not into the test's namespace ${ns}`);
    }
    const spawnIn = (...args: string[]) => {
      const child = spawn("ip", ["netns", "exec", ns, ...args], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      children.push(child);
      let output = "";
      child.stdout?.on("data", (d) => {
        output += d;
      });
      child.stderr?.on("data", (d) => {
        output += d;
      });
      return { child, output: () => output };
    };
    const http = spawnIn(
      process.execPath,
      "-e",
      server,
      `${net.address}=outside`,
      `${net.privateAddress}=private`,
    );
    const dns = spawnIn(
      "/usr/sbin/dnsmasq",
      "-k",
      "--conf-file=/dev/null",
      "--no-resolv",
      "--no-hosts",
      "--bind-interfaces",
      `--listen-address=${net.address}`,
      "--address=/outside.test/198.51.100.2",
      `--pid-file=${join(dir, "dnsmasq.pid")}`,
    );
    const deadline = Date.now() + 15_000;
    while (!http.output().includes("ready") || !(await answers(net.address))) {
      for (const p of [http, dns])
        if (p.child.exitCode !== null)
          throw new Error(`a server of the outside network exited: ${p.output()}`);
      if (Date.now() > deadline)
        throw new Error(
          `the outside network's servers did not start: ${http.output()} ${dns.output()}`,
        );
      await sleep(50);
    }
    return { ns, ...net, name: "outside.test", stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Whether a DNS server at address:53 answers a query for outside.test. */
function answers(address: string): Promise<boolean> {
  const query = Buffer.from([
    0,
    1,
    1,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    7,
    ...Buffer.from("outside"),
    4,
    ...Buffer.from("test"),
    0,
    0,
    1,
    0,
    1,
  ]);
  return new Promise((resolve) => {
    const s = createSocket("udp4");
    const done = (ok: boolean) => {
      clearTimeout(timer);
      s.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 300);
    s.on("error", () => done(false));
    s.on("message", () => done(true));
    s.send(query, 53, address);
  });
}
