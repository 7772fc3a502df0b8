// Which DNS servers a node's relays ask: --dns values and the node's resolv.conf.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Code, isAteError } from "../../errors/index.ts";
import { nodeResolvers, parseResolvConf, parseResolver } from "./dns-resolvers.ts";

const dir = mkdtempSync(join(tmpdir(), "ate-resolvers-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("DNS resolvers", () => {
  it("parses --dns addresses with and without a port", () => {
    assert.deepEqual(parseResolver("1.1.1.1"), { host: "1.1.1.1", port: 53 });
    assert.deepEqual(parseResolver("198.51.100.2:5353"), { host: "198.51.100.2", port: 5353 });
    assert.deepEqual(parseResolver("2001:db8::1"), { host: "2001:db8::1", port: 53 });
    assert.deepEqual(parseResolver("[2001:db8::1]:54"), { host: "2001:db8::1", port: 54 });
    for (const bad of ["dns.google", "1.1.1.1:0", "1.1.1.1:70000", "", "1.1.1:53", "[::1"])
      assert.throws(
        () => parseResolver(bad),
        (err) =>
          isAteError(err) &&
          err.code === Code.InvalidArgument &&
          err.message.startsWith(`--dns ${JSON.stringify(bad)}: give a DNS server's IP address`),
        bad,
      );
  });

  it("reads the nameservers of a resolv.conf, ignoring everything else", () => {
    assert.deepEqual(
      parseResolvConf(
        "# generated\nsearch example.com\nnameserver 127.0.0.53\noptions edns0\n nameserver  10.255.255.53 \nnameserver fe80::1%eth0\nnameserver bogus\n",
      ),
      [
        { host: "127.0.0.53", port: 53 },
        { host: "10.255.255.53", port: 53 },
        { host: "fe80::1%eth0", port: 53 },
      ],
    );
  });

  it("prefers the given servers, then the node's resolv.conf, then 127.0.0.1", () => {
    const conf = join(dir, "resolv.conf");
    writeFileSync(conf, "nameserver 192.0.2.53\n");
    assert.deepEqual(nodeResolvers(["198.51.100.2"], conf), [{ host: "198.51.100.2", port: 53 }]);
    assert.deepEqual(nodeResolvers(undefined, conf), [{ host: "192.0.2.53", port: 53 }]);
    assert.deepEqual(nodeResolvers([], join(dir, "missing")), [{ host: "127.0.0.1", port: 53 }]);
  });
});
