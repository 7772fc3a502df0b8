import type { Resource, ResourceType } from "../schema/resource-type.ts";
import { type Static, s } from "../schema/schema.ts";
import {
  actorResources,
  actorResourcesRules,
  containerPort,
  decodeEarlierScopeNames,
  snapshotScopeNames,
  workerPoolRef,
} from "./anchor-fields.ts";
import {
  condition,
  dnsLabelRule,
  dnsSubdomainRule,
  labelSelector,
  sandboxClass,
} from "./common.ts";

const pinnedRule = {
  rule: "self.contains('@')",
  message: "All images must be pinned (changing the image invalidates snapshots)",
};

const mountPathRule = {
  rule: "self.startsWith('/') && size(self) > 1 && !self.endsWith('/') && !self.contains('//') && !self.contains(':') && !self.matches('[\\\\x00-\\\\x1f\\\\x7f]') && !self.matches('(^|/)[.][.]?(/|$)')",
  message:
    "MountPath must be a clean absolute Unix path: must start with '/', not be '/', and contain no ':', '..', '.', '//', trailing '/', or control characters",
};

const exactlyOne = (fields: string[]) => ({
  rule: `[${fields.map((f) => `has(self.${f})`).join(",")}].filter(x, x == true).size() == 1`,
  message: `exactly one of the fields in [${fields.join(" ")}] must be set`,
});

const dnsLabelName = (description: string) =>
  s.rules(s.string({ maxLength: 63, description }), dnsLabelRule);
const argv = (description: string) =>
  s.array(s.string(), { maxItems: 64, "x-kubernetes-list-type": "atomic", description });

const secretKeySelector = s.object({
  name: s.required(
    s.rules(s.string({ maxLength: 253, description: "The Secret's name." }), dnsSubdomainRule),
  ),
  key: s.required(
    s.string({
      minLength: 1,
      pattern: "^[-._a-zA-Z0-9]+$",
      description: "The key within the Secret.",
    }),
  ),
  optional: s.boolean({ description: "Whether a missing Secret or key is allowed." }),
});

// Kubernetes' EnvVarSource (and the anchor's): one source of several, none required, exactly
// one set (MinProperties=1, MaxProperties=1), so `valueFrom: {}` is refused as the API server
// refuses it ("… should have at least 1 properties"), not as a missing secretKeyRef. Its only
// source here is secretKeyRef, and unknown fields never pass, so a valid valueFrom always has
// it: the type keeps it present.
const { required: _sources, ...envVarSourceProps } = s.object({
  secretKeyRef: s.required(secretKeySelector),
});
const envVarSource = {
  ...envVarSourceProps,
  minProperties: 1,
  maxProperties: 1,
} as typeof envVarSourceProps;

const envVar = s.rules(
  s.object({
    name: s.required(
      s.string({
        minLength: 1,
        pattern: "^[ -<>-~]+$",
        description: "Any printable ASCII characters except '='.",
      }),
    ),
    value: s.string({ description: "The literal value; $(VAR) references are not expanded." }),
    valueFrom: {
      ...envVarSource,
      description: "Where the value comes from (exactly one source): a key of a Secret.",
    },
  }),
  exactlyOne(["value", "valueFrom"]),
);

const readyz = s.object({
  httpGet: s.required(
    s.object({
      path: s.defaulted(
        s.string({
          maxLength: 1024,
          pattern: "^/([A-Za-z0-9\\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*$",
          description:
            "URL path to GET; RFC 3986 path characters and %XX escapes only, no query or fragment.",
        }),
        "/readyz",
      ),
      port: s.required(
        s.integer({ format: "int32", minimum: 1, maximum: 65535, description: "Container port." }),
      ),
    }),
  ),
  timeoutSeconds: s.defaulted(
    s.integer({
      format: "int32",
      minimum: 1,
      maximum: 3600,
      description: "How long to poll before the start fails.",
    }),
    30,
  ),
});

const volumeMount = s.object({
  name: s.required(dnsLabelName("The name of a volume in spec.volumes.")),
  mountPath: s.required(
    s.rules(
      s.string({ maxLength: 4096, description: "Where the volume appears in the container." }),
      mountPathRule,
    ),
  ),
});

const container = s.object({
  name: s.required(dnsLabelName("Name of the container.")),
  image: s.required(
    s.rules(s.string({ description: "Image pinned by digest (name@sha256:...)." }), pinnedRule),
  ),
  command: argv(
    "Entrypoint; not run by a shell. The image's ENTRYPOINT and CMD are ignored when set.",
  ),
  args: argv("Arguments to the entrypoint; not run by a shell."),
  env: s.array(envVar, { maxItems: 32, description: "Environment variables." }),
  readyz: {
    ...readyz,
    description: "Optional HTTP readiness probe: the actor is ready once it answers 200.",
  },
  volumeMounts: s.array(volumeMount, {
    maxItems: 32,
    description: "Volumes mounted into this container.",
  }),
  ports: s.array(containerPort, {
    maxItems: 64,
    description: "Ports the container listens on: informational, as in Kubernetes.",
  }),
});

const volume = s.rules(
  s.object({
    name: s.required(dnsLabelName("Name of the volume.")),
    durableDir: s.object(
      {},
      { description: "A directory that persists across resumes and travels in snapshots." },
    ),
    // The anchor's earlier name for durableDir (its counter demo mounts one at the user's
    // home): the same volume, counted and kept exactly as durableDir.
    homeDir: s.object({}, { description: "The earlier name of durableDir; the same volume." }),
  }),
  // The contract's message for what it knows (durableDir); the alias gets its own.
  {
    rule: "has(self.durableDir) || has(self.homeDir)",
    message: exactlyOne(["durableDir"]).message,
  },
  {
    rule: "!(has(self.durableDir) && has(self.homeDir))",
    message: exactlyOne(["durableDir", "homeDir"]).message,
  },
);

const snapshotScope = (description: string) =>
  s.defaulted(s.enum(snapshotScopeNames, { description }), "Full" as const);

const snapshotsConfig = s.rules(
  s.object({
    location: s.required(
      s.string({
        minLength: 1,
        description: "Base URI of this template's snapshots: s3://, gs:// or file://.",
      }),
    ),
    onPause: snapshotScope(
      "What a Pause keeps (on the node): Full (memory + rootfs) or Data (durableDir only).",
    ),
    onCommit: snapshotScope("What a Suspend uploads; must be a subset of onPause."),
  }),
  {
    rule: "(has(self.onPause) ? self.onPause : 'Full') == 'Full' || (has(self.onCommit) ? self.onCommit : 'Full') == (has(self.onPause) ? self.onPause : 'Full')",
    message: "onCommit must be a subset of onPause",
  },
);

const durableDirs = "self.volumes.filter(v, has(v.durableDir) || has(v.homeDir))";

const actorTemplateSpec = s.rules(
  s.object({
    // Optional, as in the anchor's current API (which dropped it): ate's gvisor driver runs the
    // containers in the sandbox without a pause container, so it is checked and not used.
    pauseImage: s.rules(
      s.string({
        description:
          "The sandbox's pause image, pinned by digest; accepted for older manifests and not used (ate's sandboxes have no pause container).",
      }),
      pinnedRule,
    ),
    containers: s.array(container, { maxItems: 10, description: "The actor's containers." }),
    snapshotsConfig: s.required(snapshotsConfig),
    sandboxClass: sandboxClass(
      "The sandbox runtime family; only pools of the same class run this template.",
    ),
    workerSelector: {
      ...labelSelector,
      description: "Which pools (by label) may run this template's actors; unset: any.",
    },
    volumes: s.array(volume, { maxItems: 32, description: "Volumes the containers may mount." }),
    workerPoolRef: {
      ...workerPoolRef,
      description:
        "The one WorkerPool (name; namespace default the template's) its actors run in; ANDed with workerSelector.",
    },
    resources: {
      ...actorResources,
      description:
        "Each actor's size, limits only: only pools whose workers' limits are at least these run its actors.",
    },
  }),
  { rule: "self == oldSelf", message: "Spec is immutable" },
  ...actorResourcesRules,
  {
    rule: `!has(self.volumes) || ${durableDirs}.size() <= 1`,
    message: "At most one DurableDir-typed volume is supported per ActorTemplate",
  },
  {
    rule: `!has(self.volumes) || !has(self.containers) || self.containers.all(c, !has(c.volumeMounts) || c.volumeMounts.filter(m, ${durableDirs}.exists(v, v.name == m.name)).size() <= 1)`,
    message: "A container may mount at most one DurableDir-typed volume",
  },
  {
    rule: `!has(self.volumes) || self.sandboxClass != 'microvm' || ${durableDirs}.size() == 0`,
    message: "DurableDir volumes are not supported when sandboxClass is 'microvm'",
  },
);

const actorTemplateStatus = s.object({
  phase: s.string({ description: "'' → ResumeGoldenActor → WaitGoldenActor → Ready | Failed." }),
  goldenActorID: s.string(),
  takeGoldenSnapshotAt: s.string({ format: "date-time" }),
  goldenSnapshot: s.string({
    description: "URI prefix of the golden snapshot new actors start from.",
  }),
  conditions: s.array(condition, { "x-kubernetes-list-type": "atomic" }),
});

export type ActorTemplateSpec = Static<typeof actorTemplateSpec>;
export type ActorTemplateStatus = Static<typeof actorTemplateStatus>;
export type ActorTemplate = Resource<ActorTemplateSpec, ActorTemplateStatus>;
export type TemplatePhase = "" | "ResumeGoldenActor" | "WaitGoldenActor" | "Ready" | "Failed";

export const ActorTemplateType: ResourceType<ActorTemplateSpec, ActorTemplateStatus> = {
  kind: "ActorTemplate",
  plural: "actortemplates",
  singular: "actortemplate",
  shortNames: ["actortemplate"],
  scope: "Namespaced",
  description:
    "ActorTemplate describes an actor: its images (by digest), command, env, readiness, volumes and snapshots. Its spec is immutable.",
  spec: actorTemplateSpec,
  status: actorTemplateStatus,
  decode: decodeEarlierScopeNames,
  printerColumns: [
    { name: "Class", type: "string", jsonPath: ".spec.sandboxClass" },
    { name: "Phase", type: "string", jsonPath: ".status.phase", priority: 1 },
    { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
  ],
};
