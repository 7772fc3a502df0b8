import { createSocket, type RemoteInfo, type Socket as UdpSocket } from "node:dgram";
import { createServer, isIPv6, connect as netConnect, type Server, type Socket } from "node:net";
import { AteError, Code } from "../../errors/index.ts";
import type { Resolver } from "./dns-resolvers.ts";

/**
 * A worker's DNS: the sandbox asks its gateway (10.88.0.1:53), its NAT namespace forwards that
 * to this relay on the node's side of the worker's link, and the relay passes the raw message
 * to the node's resolvers and the answer back. It parses nothing but lengths and the message
 * id, and bounds everything a hostile sandbox could make it hold.
 */
export interface DnsRelayOptions {
  /** The node's address on the worker's link. */
  address: string;
  /** Default 53. */
  port?: number;
  /** Tried in order; the next one when one fails or does not answer in time. */
  resolvers: readonly Resolver[];
  /** Queries being answered at once (UDP and TCP together); more are refused. Default 64. */
  maxInFlight?: number;
  /** How long one resolver gets to answer. Default 2000 ms. */
  attemptTimeoutMs?: number;
  /** Open TCP connections from the sandbox. Default 16. */
  maxTcpConnections?: number;
  /** A TCP connection with nothing to do is closed after this long. Default 10000 ms. */
  tcpIdleMs?: number;
}

const headerBytes = 12;
const maxMessage = 65535;

export class DnsRelay {
  private inFlight = 0;
  private closed = false;
  private readonly connections = new Set<Socket>();
  /** Upstream sockets of queries in flight, closed with the relay. */
  private readonly upstream = new Set<{ close(): void }>();

  private constructor(
    private readonly o: DnsRelayOptions,
    private readonly udp: UdpSocket,
    private readonly tcp: Server,
  ) {}

  static async open(o: DnsRelayOptions): Promise<DnsRelay> {
    const port = o.port ?? 53;
    const udp = createSocket({ type: isIPv6(o.address) ? "udp6" : "udp4" });
    const tcp = createServer();
    tcp.maxConnections = o.maxTcpConnections ?? 16;
    const relay = new DnsRelay(o, udp, tcp);
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once("error", reject);
        udp.bind({ address: o.address, port, exclusive: true }, () => {
          udp.off("error", reject);
          resolve();
        });
      });
      await new Promise<void>((resolve, reject) => {
        tcp.once("error", reject);
        tcp.listen({ host: o.address, port: (udp.address().port as number) || port }, () => {
          tcp.off("error", reject);
          resolve();
        });
      });
    } catch (err) {
      await relay.close();
      throw new AteError(
        Code.FailedPrecondition,
        `the DNS relay for a worker could not listen on ${o.address}:${port}: ${(err as Error).message} (is another DNS server bound to every address of this node?)`,
        [],
        { cause: err },
      );
    }
    // The relay lives as long as its worker, or until its driver lets go (GvisorDriver.close).
    udp.on("error", () => {}); // e.g. ICMP errors for a sandbox that went away
    udp.on("message", (msg, from) => relay.onUdp(msg, from));
    tcp.on("connection", (socket) => relay.onTcp(socket));
    tcp.on("error", () => {});
    return relay;
  }

  /** Where it listens (the port matters when it was 0, in tests). */
  get port(): number {
    return this.udp.address().port;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const u of this.upstream) u.close();
    for (const c of this.connections) c.destroy();
    await new Promise<void>((resolve) => {
      try {
        this.udp.close(() => resolve());
      } catch {
        resolve(); // never bound
      }
    });
    await new Promise<void>((resolve) => this.tcp.close(() => resolve()));
  }

  private onUdp(msg: Buffer, from: RemoteInfo): void {
    // Too short to be a query, or too many already: dropped, the client asks again.
    if (msg.length < headerBytes || this.inFlight >= (this.o.maxInFlight ?? 64)) return;
    this.answer(msg, "udp").then((answer) => {
      if (!this.closed) this.udp.send(answer, from.port, from.address, () => {});
    });
  }

  private onTcp(socket: Socket): void {
    this.connections.add(socket);
    socket.setTimeout(this.o.tcpIdleMs ?? 10_000, () => socket.destroy());
    socket.on("error", () => {});
    socket.on("close", () => this.connections.delete(socket));
    let buffered = Buffer.alloc(0);
    let busy = false;
    // One query at a time per connection; the socket is paused meanwhile, so at most one
    // message and one read chunk are ever held.
    const next = () => {
      if (busy || socket.destroyed || buffered.length < 2) return;
      const length = buffered.readUInt16BE(0);
      if (length < headerBytes) return void socket.destroy();
      if (buffered.length < 2 + length) return;
      const query = Buffer.from(buffered.subarray(2, 2 + length));
      buffered = buffered.subarray(2 + length);
      busy = true;
      socket.pause();
      const refused = this.inFlight >= (this.o.maxInFlight ?? 64);
      (refused ? Promise.resolve(servfail(query)) : this.answer(query, "tcp")).then((answer) => {
        busy = false;
        if (socket.destroyed) return;
        socket.write(Buffer.concat([lengthPrefix(answer.length), answer]));
        socket.resume();
        next();
      });
    };
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length > 2 * (2 + maxMessage)) return void socket.destroy();
      next();
    });
  }

  /** The first resolver's answer, or SERVFAIL when none answers. Never rejects. */
  private async answer(query: Buffer, proto: "udp" | "tcp"): Promise<Buffer> {
    this.inFlight++;
    try {
      for (const r of this.o.resolvers) {
        if (this.closed) break;
        const attempt = proto === "udp" ? this.askUdp(r, query) : this.askTcp(r, query);
        const answer = await attempt.catch(() => undefined);
        if (answer) return answer;
      }
      return servfail(query);
    } finally {
      this.inFlight--;
    }
  }

  private askUdp(r: Resolver, query: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const socket = createSocket({
        type: isIPv6(r.host.split("%")[0] as string) ? "udp6" : "udp4",
      });
      const handle = { close: () => finish(new Error("relay closed")) };
      const timer = setTimeout(
        () => finish(new Error("no answer in time")),
        this.o.attemptTimeoutMs ?? 2000,
      );
      const finish = (err?: Error, answer?: Buffer) => {
        clearTimeout(timer);
        this.upstream.delete(handle);
        try {
          socket.close();
        } catch {
          // already closed
        }
        err || !answer ? reject(err) : resolve(answer);
      };
      this.upstream.add(handle);
      socket.on("error", (err) => finish(err));
      socket.on("message", (msg) => {
        if (msg.length >= headerBytes && msg.readUInt16BE(0) === query.readUInt16BE(0))
          finish(undefined, msg);
      });
      socket.connect(r.port, r.host, () => socket.send(query));
    });
  }

  private askTcp(r: Resolver, query: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: r.host, port: r.port });
      const handle = { close: () => finish(new Error("relay closed")) };
      const timer = setTimeout(
        () => finish(new Error("no answer in time")),
        this.o.attemptTimeoutMs ?? 2000,
      );
      let got = Buffer.alloc(0);
      const finish = (err?: Error, answer?: Buffer) => {
        clearTimeout(timer);
        this.upstream.delete(handle);
        socket.destroy();
        err || !answer ? reject(err) : resolve(answer);
      };
      this.upstream.add(handle);
      socket.on("error", (err) => finish(err));
      socket.on("close", () => finish(new Error("closed before answering")));
      socket.on("connect", () => socket.write(Buffer.concat([lengthPrefix(query.length), query])));
      socket.on("data", (chunk: Buffer) => {
        got = Buffer.concat([got, chunk]);
        if (got.length < 2) return;
        const length = got.readUInt16BE(0);
        if (length < headerBytes) return finish(new Error("answer too short"));
        if (got.length >= 2 + length) finish(undefined, Buffer.from(got.subarray(2, 2 + length)));
      });
    });
  }
}

function lengthPrefix(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

/**
 * "Server failure" for a query: the query itself with the answer bit and rcode 2 set, so the
 * client matches it to its question and stops waiting.
 */
export function servfail(query: Buffer): Buffer {
  const out = Buffer.from(query);
  out[2] = ((query[2] as number) & 0x79) | 0x80; // QR, keep opcode and RD
  out[3] = 0x82; // RA, SERVFAIL
  return out;
}
