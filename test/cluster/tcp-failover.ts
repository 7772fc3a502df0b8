// A TCP load balancer in front of the control planes, as docs/cluster.md asks for ("give nodes
// and routers one --server that reaches both"): each connection goes to the first target that
// accepts it, so when one control plane dies the next connection reaches the other.
//   node --import tsx test/cluster/tcp-failover.ts LISTEN_ADDR:PORT TARGET:PORT [TARGET:PORT…]
// prints "failover ready" once it listens and closes on SIGTERM.
import { connect, createServer, type Socket } from "node:net";

const [listen, ...targets] = process.argv.slice(2);
const split = (hostPort: string) => {
  const i = hostPort.lastIndexOf(":");
  return { host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) };
};
if (!listen || targets.length === 0) {
  console.error("usage: tcp-failover.ts LISTEN_ADDR:PORT TARGET:PORT [TARGET:PORT…]");
  process.exit(2);
}

/** The first target that accepts within 2 s, in order; undefined when none does. */
async function reach(): Promise<Socket | undefined> {
  for (const t of targets) {
    const upstream = await new Promise<Socket | undefined>((resolve) => {
      const s = connect(split(t));
      const fail = () => {
        s.destroy();
        resolve(undefined);
      };
      s.setTimeout(2000, fail);
      s.once("error", fail);
      s.once("connect", () => {
        s.setTimeout(0);
        s.removeListener("error", fail);
        resolve(s);
      });
    });
    if (upstream) return upstream;
  }
  return undefined;
}

const server = createServer((client) => {
  client.pause();
  client.on("error", () => client.destroy());
  void reach().then((upstream) => {
    if (!upstream || client.destroyed) {
      upstream?.destroy();
      client.destroy();
      return;
    }
    // Either side ending or failing ends both: a dead control plane drops its connections.
    upstream.on("error", () => client.destroy());
    upstream.on("close", () => client.destroy());
    client.on("close", () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  });
});
server.listen(split(listen), () => console.log("failover ready"));
process.once("SIGTERM", () => {
  server.close();
  process.exit(0);
});
