// The DNS relay on loopback, against small fake resolvers: forwarding over UDP and TCP,
// fail-over, SERVFAIL, and its bounds against hostile clients.
import assert from "node:assert/strict";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { connect, createServer, type Server, type Socket } from "node:net";
import { after, afterEach, describe, it } from "node:test";
import { DnsRelay, servfail } from "./dns-relay.ts";

/** A query: id, RD, one question for `name` A IN. */
function query(id: number, name = "outside.test"): Buffer {
  const labels = name.split(".").flatMap((l) => [Buffer.from([l.length]), Buffer.from(l)]);
  const header = Buffer.from([id >> 8, id & 255, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}

/** A fake resolver: answers each query with itself plus the QR bit and a tag byte, on UDP and TCP. */
interface Fake {
  port: number;
  seen: number;
  close(): Promise<void>;
}

async function fakeResolver(o: { silent?: boolean; tag: number }): Promise<Fake> {
  const udp: UdpSocket = createSocket("udp4");
  const tcp: Server = createServer();
  const fake: Fake = {
    port: 0,
    seen: 0,
    close: async () => {
      await new Promise<void>((r) => udp.close(() => r()));
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };
  const answer = (q: Buffer) => {
    const a = Buffer.concat([q, Buffer.from([o.tag])]);
    a[2] = (a[2] as number) | 0x80;
    return a;
  };
  udp.on("message", (m, from) => {
    fake.seen++;
    if (!o.silent) udp.send(answer(m), from.port, from.address);
  });
  tcp.on("connection", (s: Socket) => {
    s.on("error", () => {});
    s.on("data", (d: Buffer) => {
      fake.seen++;
      if (o.silent) return;
      const a = answer(d.subarray(2));
      const len = Buffer.alloc(2);
      len.writeUInt16BE(a.length);
      s.end(Buffer.concat([len, a]));
    });
  });
  await new Promise<void>((r) => udp.bind(0, "127.0.0.1", () => r()));
  fake.port = udp.address().port;
  await new Promise<void>((r) => tcp.listen(fake.port, "127.0.0.1", () => r()));
  return fake;
}

function askUdp(port: number, q: Buffer, timeoutMs = 3000): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = createSocket("udp4");
    const done = (a?: Buffer) => {
      clearTimeout(t);
      s.close();
      resolve(a);
    };
    const t = setTimeout(() => done(undefined), timeoutMs);
    s.on("message", (m) => done(m));
    s.send(q, port, "127.0.0.1");
  });
}

function askTcp(port: number, raw: Buffer): Promise<{ answer?: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    let got = Buffer.alloc(0);
    s.on("error", () => {});
    s.on("data", (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
        s.destroy();
        resolve({ answer: got.subarray(2), closed: false });
      }
    });
    s.on("close", () => resolve({ closed: true }));
    s.write(raw);
  });
}

const framed = (q: Buffer) => {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(q.length);
  return Buffer.concat([len, q]);
};

describe("DNS relay", () => {
  const open: { close(): Promise<void> }[] = [];
  const use = <T extends { close(): Promise<void> }>(x: T) => {
    open.push(x);
    return x;
  };
  const relayTo = async (resolvers: Fake[], extra = {}) =>
    use(
      await DnsRelay.open({
        address: "127.0.0.1",
        port: 0,
        resolvers: resolvers.map((f) => ({ host: "127.0.0.1", port: f.port })),
        attemptTimeoutMs: 300,
        ...extra,
      }),
    );
  afterEach(async () => {
    for (const x of open.splice(0)) await x.close();
  });
  after(async () => {
    for (const x of open.splice(0)) await x.close();
  });

  it("passes a UDP query to the resolver and its answer back", async () => {
    const up = use(await fakeResolver({ tag: 7 }));
    const relay = await relayTo([up]);
    const a = await askUdp(relay.port, query(0x1234));
    assert.ok(a);
    assert.equal(a.readUInt16BE(0), 0x1234);
    assert.equal(a[a.length - 1], 7);
  });

  it("passes a TCP query over TCP, several on one connection", async () => {
    const up = use(await fakeResolver({ tag: 9 }));
    const relay = await relayTo([up]);
    const { answer } = await askTcp(relay.port, framed(query(42)));
    assert.equal(answer?.readUInt16BE(0), 42);
    assert.equal(answer?.[answer.length - 1], 9);
    // Two queries in one write: both answered in order.
    const s = connect(relay.port, "127.0.0.1");
    const answers: number[] = [];
    await new Promise<void>((resolve) => {
      let got = Buffer.alloc(0);
      s.on("data", (d: Buffer) => {
        got = Buffer.concat([got, d]);
        while (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
          answers.push(got.readUInt16BE(2));
          got = got.subarray(2 + got.readUInt16BE(0));
        }
        if (answers.length === 2) resolve();
      });
      s.write(Buffer.concat([framed(query(1)), framed(query(2))]));
    });
    s.destroy();
    assert.deepEqual(answers, [1, 2]);
  });

  it("asks the next resolver when one does not answer, and says SERVFAIL when none does", async () => {
    const silent = use(await fakeResolver({ silent: true, tag: 1 }));
    const good = use(await fakeResolver({ tag: 2 }));
    const a = await askUdp((await relayTo([silent, good])).port, query(5));
    assert.equal(a?.[a.length - 1], 2);
    assert.equal(silent.seen, 1);
    const b = await askUdp((await relayTo([silent])).port, query(6));
    assert.ok(b);
    assert.equal(b.readUInt16BE(0), 6);
    assert.equal((b[3] as number) & 0x0f, 2, "rcode SERVFAIL");
    assert.equal((b[2] as number) & 0x80, 0x80, "an answer");
    assert.deepEqual(servfail(query(6)).subarray(4), query(6).subarray(4), "the question stays");
  });

  it("ignores runts, closes TCP connections that send nonsense, and stays up", async () => {
    const up = use(await fakeResolver({ tag: 3 }));
    const relay = await relayTo([up], { tcpIdleMs: 300 });
    assert.equal(await askUdp(relay.port, Buffer.from([1, 2, 3]), 300), undefined);
    assert.equal(up.seen, 0);
    // A length below a DNS header.
    assert.deepEqual(await askTcp(relay.port, Buffer.from([0, 3, 1, 2, 3])), { closed: true });
    // A message announced as 64 KiB that never completes: closed when idle.
    const s = connect(relay.port, "127.0.0.1");
    s.on("error", () => {});
    const closed = new Promise((r) => s.on("close", r));
    s.write(Buffer.concat([Buffer.from([0xff, 0xff]), Buffer.alloc(1000, 1)]));
    await closed;
    assert.equal(up.seen, 0);
    const a = await askUdp(relay.port, query(77));
    assert.equal(a?.readUInt16BE(0), 77, "still answering");
  });

  it("bounds TCP connections and queries in flight", async () => {
    const silent = use(await fakeResolver({ silent: true, tag: 1 }));
    const relay = await relayTo([silent], {
      maxInFlight: 2,
      maxTcpConnections: 2,
      attemptTimeoutMs: 1500,
    });
    // Two queries wait on the silent resolver; a third is dropped at once (no answer, never asked).
    const pending = [askUdp(relay.port, query(1)), askUdp(relay.port, query(2))];
    await waitFor(() => silent.seen === 2);
    assert.equal(await askUdp(relay.port, query(3), 300), undefined);
    assert.equal(silent.seen, 2);
    for (const p of await Promise.all(pending)) assert.equal(((p?.[3] as number) ?? 0) & 0x0f, 2);
    // A third TCP connection is closed at once.
    const held: Socket[] = [];
    for (let i = 0; i < 2; i++) {
      const s = connect(relay.port, "127.0.0.1");
      s.on("error", () => {});
      await new Promise((r) => s.on("connect", r));
      held.push(s);
    }
    const third = await askTcp(relay.port, framed(query(9)));
    assert.deepEqual(third, { closed: true });
    for (const s of held) s.destroy();
  });

  it("closes its connections and stops answering when closed", async () => {
    const up = use(await fakeResolver({ tag: 4 }));
    const relay = await DnsRelay.open({
      address: "127.0.0.1",
      port: 0,
      resolvers: [{ host: "127.0.0.1", port: up.port }],
    });
    const port = relay.port;
    const s = connect(port, "127.0.0.1");
    s.on("error", () => {});
    await new Promise((r) => s.on("connect", r));
    const closed = new Promise((r) => s.on("close", r));
    await relay.close();
    await closed;
    assert.equal(await askUdp(port, query(1), 300), undefined);
    await relay.close(); // twice is fine
  });

  it("says clearly when it cannot listen", async () => {
    const up = use(await fakeResolver({ tag: 5 }));
    await assert.rejects(
      DnsRelay.open({ address: "127.0.0.1", port: up.port, resolvers: [] }),
      /the DNS relay for a worker could not listen on 127\.0\.0\.1:\d+/,
    );
  });
});

async function waitFor(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
