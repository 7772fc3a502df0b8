import type { Command } from "commander";
import type { Actor } from "../../proto/gen/ateapi/control_pb.ts";
import type { CliContext } from "../context.ts";
import { requireKind } from "./record-kinds.ts";

interface LifecycleOptions {
  atespace?: string;
  boot?: boolean;
  output?: string;
}

const verbs = {
  resume: {
    done: "resumed",
    about: "Start a suspended or paused actor on a free worker (waits until it is RUNNING)",
  },
  suspend: {
    done: "suspended",
    about: "Checkpoint a running actor to snapshot storage and free its worker",
  },
  pause: {
    done: "paused",
    about: "Checkpoint a running actor onto its node (fast to resume there) and free its worker",
  },
} as const;

export function registerLifecycle(program: Command, ctx: CliContext): void {
  for (const [verb, { done, about }] of Object.entries(verbs)) {
    const cmd = program
      .command(verb)
      .description(about)
      .argument("<kind>", "actor")
      .argument("<id>", "the actor's id")
      .option(
        "-a, --atespace <name>",
        "atespace of the actor (default: a tenant token's own atespace, else default)",
      )
      .option("-o, --output <format>", "print the actor afterwards: wide|yaml|json|name");
    if (verb === "resume")
      cmd.option("--boot", "start from a cold boot, not from the template's golden snapshot");
    cmd.action(async (kindArg: string, id: string, opts: LifecycleOptions) => {
      requireKind(kindArg, ["actor"], verb);
      const api = await ctx.controlApi();
      const actorRef = { atespace: await ctx.atespace(opts.atespace), name: id };
      const { actor } =
        verb === "resume"
          ? await api.resumeActor({ actorRef, boot: !!opts.boot })
          : verb === "suspend"
            ? await api.suspendActor({ actorRef })
            : await api.pauseActor({ actorRef });
      const a = actor as Actor;
      await (await import("./records.ts")).printActor(
        ctx,
        a,
        opts.output,
        verb === "resume" && a.ateomPodName ? `${done} on worker ${a.ateomPodName}` : done,
      );
    });
  }
}
