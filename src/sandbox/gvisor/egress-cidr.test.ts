// Egress ranges: parsing, and what --egress-allow may never open.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, isAteError } from "../../errors/index.ts";
import {
  checkEgressAllow,
  checkEgressDeny,
  contains,
  defaultDeny,
  overlaps,
  parseCidr,
  parseIpv4,
} from "./egress-cidr.ts";

const refused = (fn: () => unknown, message: RegExp) =>
  assert.throws(
    fn,
    (err) => isAteError(err) && err.code === Code.InvalidArgument && message.test(err.message),
  );

describe("egress ranges", () => {
  it("parses ranges and bare addresses", () => {
    assert.deepEqual(parseCidr("10.203.0.0/24", "x"), { base: parseIpv4("10.203.0.0"), bits: 24 });
    assert.deepEqual(parseCidr("203.0.113.7", "x"), { base: parseIpv4("203.0.113.7"), bits: 32 });
    assert.deepEqual(parseCidr("0.0.0.0/0", "x"), { base: 0, bits: 0 });
    assert.deepEqual(checkEgressDeny(["198.51.100.0/24", "8.8.8.8"]), [
      "198.51.100.0/24",
      "8.8.8.8/32",
    ]);
  });

  it("refuses malformed ranges, naming the flag and the value", () => {
    refused(
      () => checkEgressDeny(["10.0.0/8"]),
      /^--egress-deny "10\.0\.0\/8": give an IPv4 range/,
    );
    refused(() => checkEgressDeny(["10.0.0.256/32"]), /"10\.0\.0\.256\/32": give an IPv4/);
    refused(() => checkEgressDeny(["10.0.0.0/33"]), /prefix length must be 0 to 32/);
    refused(() => checkEgressDeny(["10.0.0.0/x"]), /prefix length/);
    refused(() => checkEgressDeny(["010.0.0.0/8"]), /give an IPv4 range/);
    refused(() => checkEgressDeny(["10.1.2.3/24"]), /did you mean 10\.1\.2\.0\/24\?/);
    refused(() => checkEgressDeny(["2001:db8::/32"]), /only IPv4 ranges/);
    refused(() => checkEgressAllow(["nonsense"]), /^--egress-allow "nonsense"/);
  });

  it("allows private ranges but never loopback, link-local, multicast or the whole internet", () => {
    assert.deepEqual(checkEgressAllow(["10.203.0.0/24", "192.168.1.10", "100.64.0.0/10"]), [
      "10.203.0.0/24",
      "192.168.1.10/32",
      "100.64.0.0/10",
    ]);
    refused(() => checkEgressAllow(["127.0.0.1"]), /overlaps loopback/);
    refused(() => checkEgressAllow(["169.254.169.254"]), /overlaps link-local.*metadata/);
    refused(() => checkEgressAllow(["169.254.64.0/22"]), /ate's workers/);
    refused(() => checkEgressAllow(["169.0.0.0/8"]), /link-local/);
    refused(() => checkEgressAllow(["224.0.0.251"]), /multicast/);
    refused(() => checkEgressAllow(["255.255.255.255"]), /broadcast/);
    refused(() => checkEgressAllow(["0.0.0.0/0"]), /overlaps/);
    refused(() => checkEgressAllow(["127.0.0.1"], "egress.allow"), /^egress\.allow "127\.0\.0\.1"/);
    assert.deepEqual(checkEgressAllow(["10.0.0.0/8"]), ["10.0.0.0/8"]);
  });

  it("denies every private, shared, loopback, link-local, multicast and reserved address by default", () => {
    const deny = defaultDeny.map((d) => parseCidr(d, "default"));
    const denied = (a: string) => deny.some((c) => contains(c, parseIpv4(a) as number));
    for (const a of [
      "0.0.0.1",
      "10.88.0.1",
      "100.100.100.200",
      "127.0.0.53",
      "169.254.169.254",
      "169.254.64.2",
      "172.17.0.1",
      "192.168.0.1",
      "224.0.0.1",
      "255.255.255.255",
    ])
      assert.ok(denied(a), a);
    for (const a of ["1.1.1.1", "198.51.100.2", "172.32.0.1", "100.128.0.1", "8.8.8.8"])
      assert.ok(!denied(a), a);
    assert.ok(overlaps(parseCidr("10.0.0.0/8", "x"), parseCidr("10.1.0.0/16", "x")));
    assert.ok(!overlaps(parseCidr("10.0.0.0/8", "x"), parseCidr("11.0.0.0/8", "x")));
  });
});
