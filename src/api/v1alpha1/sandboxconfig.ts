import type { Resource, ResourceType } from "../schema/resource-type.ts";
import { type Static, s } from "../schema/schema.ts";
import { sandboxClass } from "./common.ts";

/**
 * The schemes a node agent reads assets from, each with what it needs: http(s) a host, s3 and
 * gs a bucket and an object key, file an absolute path. Anything else (`ftp://`,
 * `javascript:`, a bare `runsc`) is refused at admission. RE2 and ECMAScript read it alike.
 */
export const assetUrlPattern =
  "^(https?://[^/?#\\s]+([/?#]\\S*)?|(s3|gs)://[^/?#\\s]+/[^?#\\s]+|file:///\\S+)$";

export const sandboxAsset = s.object({
  url: s.required(
    s.string({
      minLength: 1,
      pattern: assetUrlPattern,
      description:
        "Where the node agent fetches the asset: https://host/path, http://host/path, s3://bucket/key, gs://bucket/key or file:///path (read only under the node's allowed directories).",
    }),
  ),
  sha256: s.required(
    s.string({
      pattern: "^[a-f0-9]{64}$",
      description:
        "Lower-case hex SHA-256 of the asset; names the cached file and verifies every download.",
    }),
  ),
});

const sandboxConfigSpec = s.object({
  sandboxClass: s.required(sandboxClass("The sandbox runtime family these assets implement.")),
  default: s.boolean({
    description:
      "The cluster-wide default for its class, used by pools that name no SandboxConfig. At most one per class.",
  }),
  assets: s.map(s.map(sandboxAsset), {
    description:
      "Architecture (Go names: amd64, arm64) → asset name → {url, sha256}: the versioned runtime binaries.",
  }),
});

export type SandboxAsset = Static<typeof sandboxAsset>;
export type SandboxConfigSpec = Static<typeof sandboxConfigSpec>;
export type SandboxConfig = Resource<SandboxConfigSpec, never>;

/** The asset names each class's driver needs on every architecture. */
export const requiredAssets = {
  gvisor: ["runsc"],
  microvm: ["cloud-hypervisor", "virtiofsd", "kata-kernel", "kata-image", "kata-config"],
} as const;

const everyArchHas = (names: readonly string[]) =>
  `has(object.spec.assets) && size(object.spec.assets) > 0 && object.spec.assets.all(arch, ${names
    .map((n) => `'${n}' in object.spec.assets[arch]`)
    .join(" && ")})`;

export const SandboxConfigType: ResourceType<SandboxConfigSpec, never> = {
  kind: "SandboxConfig",
  plural: "sandboxconfigs",
  singular: "sandboxconfig",
  shortNames: ["sandboxconfig"],
  scope: "Cluster",
  description:
    "SandboxConfig names a versioned sandbox runtime: per architecture, the assets (binaries) a sandbox class needs, each by URL and sha256.",
  spec: sandboxConfigSpec,
  printerColumns: [
    { name: "Class", type: "string", jsonPath: ".spec.sandboxClass" },
    { name: "Default", type: "boolean", jsonPath: ".spec.default" },
    { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
  ],
  admissionPolicies: [
    {
      name: "sandboxconfig-assets.ate.dev",
      operations: ["CREATE", "UPDATE"],
      validations: [
        {
          expression: `object.spec.sandboxClass != 'gvisor' || (${everyArchHas(requiredAssets.gvisor)})`,
          message:
            "a gvisor SandboxConfig must define a 'runsc' asset for every architecture under spec.assets",
        },
        {
          expression: `object.spec.sandboxClass != 'microvm' || (${everyArchHas(requiredAssets.microvm)})`,
          message:
            "a microvm SandboxConfig must define cloud-hypervisor, virtiofsd, kata-kernel, kata-image, and kata-config assets for every architecture under spec.assets",
        },
      ],
    },
  ],
};
