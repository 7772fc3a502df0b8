import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { toConnectError, withConnectErrors } from "../../errors/connect.ts";
import type { Node } from "../../proto/gen/ateapi/node_pb.ts";
import type { NodeAgentApi, NodeCallOptions } from "../api.ts";
import { actorTokenFromWire } from "./actor-token-wire.ts";
import {
  checkpointRequestFromWire,
  checkpointResultToWire,
  restoreRequestFromWire,
} from "./snapshot-convert.ts";
import { count } from "./wire-checks.ts";
import {
  identityFromWire,
  settingsFromWire,
  workerInfoToWire,
  workerName,
} from "./worker-convert.ts";
import { sandboxAssetsFromWire, workloadFromWire } from "./workload-convert.ts";

const wrap = withConnectErrors;

/** The caller's cancellation and deadline, both in the handler's signal. */
const call = (ctx: HandlerContext): NodeCallOptions => ({ signal: ctx.signal });

/**
 * The ateapi.Node service over any NodeAgentApi: requests are checked (names, numbers) before
 * the agent sees them; its AteErrors reach the caller with their codes; a caller that goes
 * away, or whose deadline passes, aborts the agent's work through the signal.
 */
export function nodeService(agent: NodeAgentApi): ServiceImpl<typeof Node> {
  return {
    createWorker: wrap(async (req, ctx) =>
      workerInfoToWire(
        await agent.createWorker(
          workerName("name", req.name),
          req.settings ? settingsFromWire(req.settings, "settings") : undefined,
          call(ctx),
        ),
      ),
    ),
    deleteWorker: wrap(async (req, ctx) => {
      await agent.deleteWorker(workerName("name", req.name), call(ctx));
      return {};
    }),
    listWorkers: wrap(async (_req, ctx) => ({
      workers: (await agent.listWorkers(call(ctx))).map(workerInfoToWire),
    })),
    run: wrap(async (req, ctx) =>
      workerInfoToWire(
        await agent.run(
          {
            worker: workerName("worker", req.worker),
            actor: identityFromWire(req.actor, "actor"),
            workload: workloadFromWire(req.workload, "workload"),
            sandboxAssets: sandboxAssetsFromWire(req.sandboxAssets, "sandbox_assets"),
            ...(req.actorToken !== undefined
              ? { actorToken: actorTokenFromWire(req.actorToken) }
              : {}),
          },
          call(ctx),
        ),
      ),
    ),
    checkpoint: wrap(async (req, ctx) =>
      checkpointResultToWire(await agent.checkpoint(checkpointRequestFromWire(req), call(ctx))),
    ),
    restore: wrap(async (req, ctx) =>
      workerInfoToWire(await agent.restore(restoreRequestFromWire(req), call(ctx))),
    ),
    stop: wrap(async (req, ctx) => {
      await agent.stop(workerName("worker", req.worker), call(ctx));
      return {};
    }),
    freeze: wrap(async (req, ctx) => {
      const worker = workerName("worker", req.worker);
      await agent.freeze({ worker, actor: identityFromWire(req.actor, "actor") }, call(ctx));
      return {};
    }),
    thaw: wrap(async (req, ctx) => {
      const worker = workerName("worker", req.worker);
      await agent.thaw({ worker, actor: identityFromWire(req.actor, "actor") }, call(ctx));
      return {};
    }),
    listSnapshots: wrap(async (_req, ctx) => {
      const { location, snapshots } = await agent.listSnapshots(call(ctx));
      return {
        location,
        snapshots: snapshots.map((s) => ({
          uri: s.uri,
          bytes: BigInt(s.bytes),
          modifiedAtMs: BigInt(Math.trunc(s.modifiedAt)),
        })),
      };
    }),
    deleteSnapshot: wrap(async (req, ctx) => ({
      bytes: BigInt(await agent.deleteSnapshot(req.uri, call(ctx))),
    })),
    async *logs(req, ctx) {
      try {
        const actor = identityFromWire(req.actor, "actor");
        const from = count("from", req.from);
        for await (const data of agent.logs(actor, { from, signal: ctx.signal })) yield { data };
      } catch (err) {
        throw toConnectError(err);
      }
    },
  };
}
