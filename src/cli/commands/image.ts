import { join } from "node:path";
import type { Command } from "commander";
import { buildNodeAppImage, ImageStore, type PullProgress, packAndPush } from "../../node/index.ts";
import { ateHome } from "../../resources/index.ts";
import type { CliContext } from "../context.ts";

export function registerImage(program: Command, ctx: CliContext): void {
  const image = program.command("image").description("Build, push and pull OCI images (by digest)");
  image
    .command("push")
    .description(
      "Pack a directory into a one-layer OCI image, push it, and print the pinned reference",
    )
    .argument("<dir>", "the directory that becomes the image's root filesystem")
    .argument("<reference>", "registry/repository[:tag], e.g. 127.0.0.1:5000/ate/counter:v1")
    .option("--entrypoint <argv...>", "the image's ENTRYPOINT")
    .option("--env <KEY=VALUE...>", "the image's environment")
    .action(
      async (dir: string, reference: string, opts: { entrypoint?: string[]; env?: string[] }) => {
        const pinned = await packAndPush({
          dir,
          reference,
          ...(opts.entrypoint ? { entrypoint: opts.entrypoint } : {}),
          ...(opts.env ? { env: opts.env } : {}),
        });
        ctx.io.out(pinned);
      },
    );
  image
    .command("build-node")
    .description(
      "Build a Node.js app into an image (entry bundled with its imports, TypeScript compiled, this machine's node), push it, and print the pinned reference",
    )
    .argument("<entry>", "the app's entry file, e.g. demos/counter/server.ts")
    .argument("<reference>", "registry/repository[:tag], e.g. 127.0.0.1:5000/demo/counter:v1")
    .option("--env <KEY=VALUE...>", "the image's environment")
    .option(
      "--with <program...>",
      "host programs to add as /usr/bin/NAME with the libraries they link, e.g. --with sh ls cat",
    )
    .action(async (entry: string, reference: string, opts: { env?: string[]; with?: string[] }) => {
      ctx.io.out(
        await buildNodeAppImage({
          entry,
          reference,
          ...(opts.env ? { env: opts.env } : {}),
          ...(opts.with ? { programs: opts.with } : {}),
        }),
      );
    });
  image
    .command("pull")
    .description(
      "Pull an image by digest into a node's image cache (as the node agent does), showing progress on a terminal",
    )
    .argument("<reference>", "registry/repository@sha256:…")
    .option("--cache <dir>", "image cache directory (default: <home>/node/images)")
    .action(async (reference: string, opts: { cache?: string }) => {
      const home = (program.opts() as { home?: string }).home ?? ateHome();
      const progress = process.stderr.isTTY ? terminalProgress() : undefined;
      const store = new ImageStore({
        dir: opts.cache ?? join(home, "node", "images"),
        ...(progress ? { onProgress: progress.update } : {}),
      });
      const pulled = await store.ensure(reference);
      progress?.done();
      ctx.io.out(`${pulled.digest} ${pulled.rootfs}`);
    });
}

/** One line per layer, redrawn in place, for long pulls on a terminal. */
function terminalProgress(): { update: (p: PullProgress) => void; done: () => void } {
  const layers = new Map<string, PullProgress>();
  let drawn = 0;
  let last = 0;
  const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
  const draw = () => {
    if (drawn) process.stderr.write(`\x1b[${drawn}A`);
    for (const p of layers.values()) {
      const pct = p.total ? Math.floor((100 * p.bytes) / p.total) : 0;
      process.stderr.write(
        `\x1b[2K${p.layer.slice(7, 19)}  ${mib(p.bytes).padStart(10)} / ${mib(p.total)}  ${String(pct).padStart(3)}%\n`,
      );
    }
    drawn = layers.size;
  };
  return {
    update(p) {
      layers.set(p.layer, p);
      const now = Date.now();
      if (now - last > 100 || p.bytes === p.total) {
        last = now;
        draw();
      }
    },
    done: draw,
  };
}
