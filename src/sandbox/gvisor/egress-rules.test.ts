// The iptables rules egress generates (installing them on a machine: test/gvisor/egress.test.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  chainsOf,
  guardRestore,
  hostChainsRestore,
  hostJumps,
  jumpComment,
  workerNatRestore,
} from "./egress-rules.ts";

const policy = { prefix: "atx", subnetBase: 201, subnets: 4, allow: [], deny: [] };

describe("egress rules", () => {
  it("names the node's chains and jumps after its prefix", () => {
    assert.deepEqual(chainsOf("atx"), {
      input: "ate-atx-in",
      forward: "ate-atx-fwd",
      deny: "ate-atx-deny",
      nat: "ate-atx-nat",
    });
    for (const j of hostJumps(policy)) {
      assert.ok(j.spec.join(" ").includes(`--comment ${jumpComment("atx")}`));
      assert.match(j.spec.join(" "), /-j ate-atx-/);
    }
    assert.deepEqual(
      hostJumps(policy).map((j) => `${j.table} ${j.chain} ${j.spec.join(" ")}`),
      [
        "filter INPUT -i atx-w+ -m comment --comment ate-egress-atx -j ate-atx-in",
        // The node's side of its worker links, from anywhere (a neighbour that routes there).
        "filter INPUT -m iprange --dst-range 169.254.201.0-169.254.204.255 -m comment --comment ate-egress-atx -j ate-atx-in",
        "filter FORWARD -i atx-w+ -m comment --comment ate-egress-atx -j ate-atx-fwd",
        "filter FORWARD -o atx-w+ -m comment --comment ate-egress-atx -j ate-atx-fwd",
        "nat POSTROUTING -m comment --comment ate-egress-atx -j ate-atx-nat",
      ],
    );
  });

  it("lets workers reach the node only for answers and DNS on their own link, at a bounded rate", () => {
    const input = hostChainsRestore(policy)
      .split("\n")
      .filter((l) => l.startsWith("-A ate-atx-in "));
    assert.deepEqual(input, [
      // The node itself may use its link addresses; a neighbour may not (--limit-iface-in).
      "-A ate-atx-in -i lo -j RETURN",
      "-A ate-atx-in -p udp -m udp --dport 53 -m hashlimit --hashlimit-above 500/sec --hashlimit-burst 1000 --hashlimit-mode srcip --hashlimit-name ate-atx-dns -j DROP",
      "-A ate-atx-in -p tcp -m tcp --dport 53 -m hashlimit --hashlimit-above 500/sec --hashlimit-burst 1000 --hashlimit-mode srcip --hashlimit-name ate-atx-dns -j DROP",
      "-A ate-atx-in -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
      "-A ate-atx-in -p udp -m udp --dport 53 -m addrtype --dst-type LOCAL --limit-iface-in -j ACCEPT",
      "-A ate-atx-in -p tcp -m tcp --dport 53 -m addrtype --dst-type LOCAL --limit-iface-in -j ACCEPT",
      "-A ate-atx-in -j DROP",
    ]);
  });

  it("forwards allowed ranges first, then refuses private ones, then the world; nothing into a worker but answers", () => {
    const text = hostChainsRestore({
      ...policy,
      allow: ["10.203.0.0/24"],
      deny: ["198.51.100.128/25"],
    });
    const fwd = text.split("\n").filter((l) => l.startsWith("-A ate-atx-fwd "));
    assert.deepEqual(fwd, [
      "-A ate-atx-fwd -o atx-w+ -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
      "-A ate-atx-fwd -o atx-w+ -j DROP",
      "-A ate-atx-fwd -d 10.203.0.0/24 -j ACCEPT",
      ...[
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "198.51.100.128/25",
      ].map((r) => `-A ate-atx-fwd -d ${r} -j ate-atx-deny`),
      "-A ate-atx-fwd -j ACCEPT",
    ]);
    assert.match(text, /-A ate-atx-deny -p tcp -j REJECT --reject-with tcp-reset\n/);
    assert.match(text, /-A ate-atx-deny -j REJECT --reject-with icmp-admin-prohibited\n/);
  });

  it("masquerades the node's worker addresses out of every other interface", () => {
    assert.match(
      hostChainsRestore(policy),
      /\*nat\n:ate-atx-nat - \[0:0\]\n-A ate-atx-nat ! -o atx-w\+ -m iprange --src-range 169\.254\.201\.0-169\.254\.204\.255 -j MASQUERADE\nCOMMIT\n/,
    );
    assert.match(
      hostChainsRestore({ ...policy, subnetBase: 64, subnets: 1 }),
      /--src-range 169\.254\.64\.0-169\.254\.64\.255 /,
    );
  });

  it("declares every chain it fills, so a re-run empties before refilling", () => {
    const text = hostChainsRestore(policy);
    for (const c of ["ate-atx-in", "ate-atx-fwd", "ate-atx-deny", "ate-atx-nat"])
      assert.ok(text.includes(`:${c} - [0:0]\n`), c);
    assert.match(guardRestore(), /^\*filter\n:ate-forward-guard - \[0:0\]\n/);
    assert.match(guardRestore(), /-A ate-forward-guard -j DROP\nCOMMIT\n$/);
  });

  it("sends a default worker's traffic out masqueraded with DNS to its relay; a none worker's nowhere", () => {
    const def = workerNatRestore("default", "169.254.201.5", "10.88.0.1");
    assert.match(
      def,
      /-A PREROUTING -d 10\.88\.0\.1\/32 -i gw0 -p udp -m udp --dport 53 -j DNAT --to-destination 169\.254\.201\.5:53/,
    );
    assert.match(def, /-p tcp -m tcp --dport 53 -j DNAT --to-destination 169\.254\.201\.5:53/);
    assert.match(def, /-A POSTROUTING -o out0 -j MASQUERADE/);
    // A bounded share of the node's connection tracking.
    assert.match(
      def,
      /\*filter\n-A FORWARD -i gw0 -m conntrack --ctstate NEW -m connlimit --connlimit-above 4096 --connlimit-mask 0 -j REJECT --reject-with icmp-admin-prohibited\nCOMMIT\n$/,
    );
    const none = workerNatRestore("none", "169.254.201.5", "10.88.0.1");
    assert.doesNotMatch(none, /DNAT|MASQUERADE/);
    assert.match(none, /-A FORWARD -i gw0 -j DROP/);
  });

  it("with a Control API gateway: port 80 of a default worker's gateway leads there, new connections bounded; a none worker's still nowhere", () => {
    const input = hostChainsRestore({ ...policy, apiPort: 7447 })
      .split("\n")
      .filter((l) => l.startsWith("-A ate-atx-in "));
    assert.deepEqual(input, [
      "-A ate-atx-in -i lo -j RETURN",
      "-A ate-atx-in -p udp -m udp --dport 53 -m hashlimit --hashlimit-above 500/sec --hashlimit-burst 1000 --hashlimit-mode srcip --hashlimit-name ate-atx-dns -j DROP",
      "-A ate-atx-in -p tcp -m tcp --dport 53 -m hashlimit --hashlimit-above 500/sec --hashlimit-burst 1000 --hashlimit-mode srcip --hashlimit-name ate-atx-dns -j DROP",
      // Counted before conntrack's ESTABLISHED lets anything pass: a flood of new connections
      // is dropped, more than a few open at once refused.
      "-A ate-atx-in -p tcp -m tcp --dport 7447 -m conntrack --ctstate NEW -m hashlimit --hashlimit-above 20/sec --hashlimit-burst 40 --hashlimit-mode srcip --hashlimit-name ate-atx-api -j DROP",
      "-A ate-atx-in -p tcp -m tcp --dport 7447 -m conntrack --ctstate NEW -m connlimit --connlimit-above 8 --connlimit-mask 32 -j REJECT --reject-with tcp-reset",
      "-A ate-atx-in -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
      "-A ate-atx-in -p udp -m udp --dport 53 -m addrtype --dst-type LOCAL --limit-iface-in -j ACCEPT",
      "-A ate-atx-in -p tcp -m tcp --dport 53 -m addrtype --dst-type LOCAL --limit-iface-in -j ACCEPT",
      // Only on the worker's own link, as DNS: not the node's other addresses.
      "-A ate-atx-in -p tcp -m tcp --dport 7447 -m addrtype --dst-type LOCAL --limit-iface-in -j ACCEPT",
      "-A ate-atx-in -j DROP",
    ]);
    // Forwarding is untouched: the gateway is on the node, not beyond it.
    assert.equal(
      hostChainsRestore({ ...policy, apiPort: 7447 }).replace(/.*7447.*\n/g, ""),
      hostChainsRestore(policy),
    );
    const def = workerNatRestore("default", "169.254.201.5", "10.88.0.1", 7447);
    assert.match(
      def,
      /-A PREROUTING -d 10\.88\.0\.1\/32 -i gw0 -p tcp -m tcp --dport 80 -j DNAT --to-destination 169\.254\.201\.5:7447\n/,
    );
    assert.equal(def.match(/DNAT/g)?.length, 3, "DNS (udp, tcp) and the API, nothing else");
    assert.equal(
      workerNatRestore("none", "169.254.201.5", "10.88.0.1", 7447),
      workerNatRestore("none", "169.254.201.5", "10.88.0.1"),
    );
  });
});
