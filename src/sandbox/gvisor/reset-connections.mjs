// Runs inside a worker's NAT namespace: for each "clientPort:serverPort", opens a TCP
// connection from gateway:clientPort to sandbox:serverPort. The sandbox still holds that
// 4-tuple as an established connection, so it answers the SYN with a challenge ACK, and this
// namespace's kernel replies with an in-window RST that closes the sandbox's endpoint.
import net from "node:net";

const [gateway, sandbox, ...pairs] = process.argv.slice(2);
await Promise.all(
  pairs.map(
    (pair) =>
      new Promise((resolve) => {
        const [localPort, port] = pair.split(":").map(Number);
        const socket = net.connect({ host: sandbox, port, localAddress: gateway, localPort });
        const done = () => {
          clearTimeout(timer);
          socket.destroy();
          resolve();
        };
        const timer = setTimeout(done, 1000);
        socket.on("error", done);
        socket.on("connect", () => socket.resetAndDestroy());
        socket.on("close", done);
      }),
  ),
);
