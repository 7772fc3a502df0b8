// Which tracked flows in a worker's NAT namespace are the sandbox's open connections to its
// Control API gateway (closed before a checkpoint, see api-drain.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { countApiFlows } from "./api-drain.ts";

const toGateway = (state: string, port: number) =>
  `tcp      6 431999 ${state} src=10.88.0.2 dst=10.88.0.1 sport=${port} dport=80 src=169.254.176.1 dst=169.254.176.2 sport=7447 dport=${port} [ASSURED] mark=0 use=1`;

describe("the sandbox's connections to its Control API gateway", () => {
  it("counts the open ones only, from conntrack -L or /proc/net/nf_conntrack", () => {
    const lines = [
      toGateway("ESTABLISHED", 40000),
      `ipv4     2 ${toGateway("FIN_WAIT", 40001)}`,
      toGateway("TIME_WAIT", 40002),
      toGateway("CLOSE", 40003),
      // Into the sandbox (the router's) and out to the world: the drain's business, not this.
      "tcp      6 431999 ESTABLISHED src=10.0.0.5 dst=169.254.176.2 sport=40100 dport=8080 src=10.88.0.2 dst=10.88.0.1 sport=8080 dport=61000 [ASSURED] mark=0 use=1",
      "tcp      6 431999 ESTABLISHED src=10.88.0.2 dst=93.184.216.34 sport=50000 dport=443 src=93.184.216.34 dst=169.254.176.2 sport=443 dport=50000 [ASSURED] mark=0 use=1",
      "udp      17 29 src=10.88.0.2 dst=10.88.0.1 sport=5353 dport=53 src=169.254.176.1 dst=169.254.176.2 sport=53 dport=5353 mark=0 use=1",
    ].join("\n");
    assert.equal(countApiFlows(lines, 7447), 2);
    assert.equal(countApiFlows(lines, 7448), 0);
    assert.equal(countApiFlows("", 7447), 0);
  });
});
