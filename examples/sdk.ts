// ate's TypeScript SDK in one file: an actor created, asked over HTTP through the router
// (which resumes it on demand), suspended, asked again, and its output read.
//   ate apply -f examples/ && npx tsx examples/sdk.ts
// (ATE_SERVER, ATE_TOKEN and ATE_ROUTER say where and as whom; default: the local `ate up`.)
import { AteError, Code, connect } from "ate";

const ate = connect({ token: process.env.ATE_TOKEN, atespace: "default" });
const template = process.env.TEMPLATE ?? "default/counter";
const counter = ate.actor(`sdk-example-${process.pid}`);

await counter.create({ template });
try {
  const first = await counter.fetch("/"); // the router resumes the actor for this request
  console.log(first.status, await first.text());
  await counter.suspend(); // checkpointed: memory and files kept, worker freed
  const again = await counter.fetch("/"); // resumed from that snapshot
  console.log(again.status, await again.text());

  // Its stdout and stderr so far; `follow: true` would keep reading until the signal aborts.
  for await (const text of counter.logs({ signal: AbortSignal.timeout(5000) }))
    process.stdout.write(text);
} catch (err) {
  if (err instanceof AteError && err.code === Code.Unavailable) console.error("is ate up running?");
  throw err;
} finally {
  await counter.suspend().catch(() => {});
  await counter.delete();
}
