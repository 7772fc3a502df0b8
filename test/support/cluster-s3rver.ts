// s3rver as a process of its own, for a cluster host (see startS3In in cluster-services.ts):
//   node --import tsx test/support/cluster-s3rver.ts '{"address":…,"port":…,"directory":…,"buckets":[…]}'
// prints "s3rver ready on ADDRESS:PORT" once it listens and closes on SIGTERM.
import S3rver from "s3rver";

const options = JSON.parse(process.argv[2] ?? "{}") as {
  address?: string;
  port?: number;
  directory?: string;
  buckets?: string[];
};
if (!options.address || !options.directory || !Number.isInteger(options.port)) {
  console.error('usage: cluster-s3rver.ts \'{"address":…,"port":…,"directory":…,"buckets":[…]}\'');
  process.exit(2);
}
const server = new S3rver({
  address: options.address,
  port: options.port as number,
  silent: true,
  directory: options.directory,
  configureBuckets: (options.buckets ?? []).map((name) => ({ name, configs: [] })),
});
const { address, port } = await server.run();
console.log(`s3rver ready on ${address}:${port}`);
process.once("SIGTERM", () => {
  void server.close().then(() => process.exit(0));
});
