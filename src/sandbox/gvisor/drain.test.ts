// The drain's listing of connections into the sandbox, from either source it reads.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseFlows } from "./drain.ts";

// A client 10.0.0.5 → the worker's address, DNATed to the sandbox (10.88.0.2) and masqueraded
// from the gateway (10.88.0.1): the reply tuple is the sandbox's side.
const established =
  "tcp      6 431999 ESTABLISHED src=10.0.0.5 dst=10.200.0.2 sport=40100 dport=8080 src=10.88.0.2 dst=10.88.0.1 sport=8080 dport=61000 [ASSURED] mark=0 use=1";
const timeWait =
  "tcp      6 118 TIME_WAIT src=10.0.0.5 dst=10.200.0.2 sport=40101 dport=8080 src=10.88.0.2 dst=10.88.0.1 sport=8080 dport=61001 [ASSURED] mark=0 use=1";
const synSent =
  "tcp      6 118 SYN_SENT src=10.0.0.5 dst=10.200.0.2 sport=40102 dport=9000 [UNREPLIED] src=10.88.0.2 dst=10.88.0.1 sport=9000 dport=61002 mark=0 use=1";
// The sandbox's own connection out: its reply comes from elsewhere.
const outgoing =
  "tcp      6 431999 ESTABLISHED src=10.88.0.2 dst=93.184.216.34 sport=50000 dport=443 src=93.184.216.34 dst=10.200.0.2 sport=443 dport=50000 [ASSURED] mark=0 use=1";
const udp =
  "udp      17 29 src=10.88.0.2 dst=10.88.0.1 sport=5353 dport=53 src=10.88.0.1 dst=10.88.0.2 sport=53 dport=5353 mark=0 use=1";

describe("parseFlows", () => {
  it("keeps open TCP connections whose reply comes from the sandbox (conntrack -L)", () => {
    const out = [established, timeWait, synSent, outgoing, udp, "", "garbage"].join("\n");
    assert.deepEqual(parseFlows(out), [
      { state: "ESTABLISHED", innerPort: 8080, innerClientPort: 61000 },
      { state: "SYN_SENT", innerPort: 9000, innerClientPort: 61002 },
    ]);
  });

  it("reads /proc/net/nf_conntrack lines the same way", () => {
    const proc = (l: string) => `ipv4     2 ${l.replace(" use=1", " zone=0 use=2")}`;
    const out = [established, timeWait, synSent, outgoing, udp].map(proc).join("\n");
    assert.deepEqual(parseFlows(out), [
      { state: "ESTABLISHED", innerPort: 8080, innerClientPort: 61000 },
      { state: "SYN_SENT", innerPort: 9000, innerClientPort: 61002 },
    ]);
  });

  it("reads lines with per-tuple counters (nf_conntrack_acct)", () => {
    const line =
      "ipv4     2 tcp      6 300 CLOSE_WAIT src=10.0.0.5 dst=10.200.0.2 sport=40103 dport=8080 packets=4 bytes=240 src=10.88.0.2 dst=10.88.0.1 sport=8080 dport=61003 packets=3 bytes=180 [ASSURED] mark=0 zone=0 use=2";
    assert.deepEqual(parseFlows(line), [
      { state: "CLOSE_WAIT", innerPort: 8080, innerClientPort: 61003 },
    ]);
  });
});
