import type { ServiceImpl } from "@connectrpc/connect";
import { withConnectErrors } from "../errors/index.ts";
import type { Control } from "../proto/gen/ateapi/control_pb.ts";
import type { ControlPlane } from "./control-plane.ts";
import { actorToWire, atespaceToWire, workerToWire } from "./wire.ts";

const wrap = withConnectErrors;

const ref = (r: { atespace: string; name: string } | undefined) => r ?? { atespace: "", name: "" };

/** The ateapi.Control service over a ControlPlane. */
export function controlService(cp: ControlPlane): ServiceImpl<typeof Control> {
  return {
    getActor: wrap(async (req) => ({ actor: actorToWire(await cp.getActor(ref(req.actorRef))) })),
    createActor: wrap(async (req) => ({
      actor: actorToWire(
        await cp.createActor(
          ref(req.actorRef),
          req.actorTemplateNamespace,
          req.actorTemplateName,
          req.workerSelector?.matchLabels,
        ),
      ),
    })),
    updateActor: wrap(async (req) => ({
      actor: actorToWire(await cp.updateActor(ref(req.actorRef), req.workerSelector?.matchLabels)),
    })),
    suspendActor: wrap(async (req, ctx) => ({
      actor: actorToWire(await cp.suspendActor(ref(req.actorRef), ctx.signal)),
    })),
    pauseActor: wrap(async (req, ctx) => ({
      actor: actorToWire(await cp.pauseActor(ref(req.actorRef), ctx.signal)),
    })),
    resumeActor: wrap(async (req, ctx) => ({
      actor: actorToWire(await cp.resumeActor(ref(req.actorRef), req.boot, ctx.signal)),
    })),
    deleteActor: wrap(async (req) => {
      await cp.deleteActor(ref(req.actorRef));
      return {};
    }),
    listWorkers: wrap(async () => ({ workers: (await cp.listWorkers()).map(workerToWire) })),
    listActors: wrap(async (req) => {
      const page = await cp.listActors(req.pageSize, req.pageToken, req.atespace);
      return { actors: page.actors.map(actorToWire), nextPageToken: page.nextPageToken };
    }),
    createAtespace: wrap(async (req) => ({
      atespace: atespaceToWire(await cp.createAtespace(req.name)),
    })),
    getAtespace: wrap(async (req) => ({
      atespace: atespaceToWire(await cp.getAtespace(req.name)),
    })),
    listAtespaces: wrap(async () => ({
      atespaces: (await cp.listAtespaces()).map(atespaceToWire),
    })),
    deleteAtespace: wrap(async (req) => {
      await cp.deleteAtespace(req.name);
      return {};
    }),
    debugClear: wrap(async () => {
      await cp.debugClear();
      return {};
    }),
  };
}
