import { AteError, Code } from "../../errors/index.ts";

/** An image reference pinned by digest: `registry/repository[:tag]@sha256:hex`. */
export interface ImageReference {
  registry: string;
  repository: string;
  tag?: string;
  digest: string;
}

const digestRe = /^sha256:[a-f0-9]{64}$/;

export function parseReference(
  ref: string,
  options: { requireDigest?: boolean } = {},
): ImageReference {
  const requireDigest = options.requireDigest ?? true;
  const [nameAndTag = "", digest, ...rest] = ref.split("@");
  if (rest.length) throw new AteError(Code.InvalidArgument, `image "${ref}" has more than one '@'`);
  if (digest !== undefined && !digestRe.test(digest)) {
    throw new AteError(
      Code.InvalidArgument,
      `image "${ref}": digest "${digest}" is not sha256:<64 lower-case hex>`,
    );
  }
  if (digest === undefined && requireDigest) {
    throw new AteError(
      Code.InvalidArgument,
      `image "${ref}" is not pinned by digest: use name@sha256:<digest> (changing the image invalidates snapshots)`,
    );
  }
  let name = nameAndTag;
  let tag: string | undefined;
  const lastColon = name.lastIndexOf(":");
  if (lastColon > name.lastIndexOf("/")) {
    tag = name.slice(lastColon + 1);
    name = name.slice(0, lastColon);
  }
  const first = name.split("/")[0] ?? "";
  let registry = "registry-1.docker.io";
  let repository = name;
  if (name.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost")) {
    registry = first;
    repository = name.slice(first.length + 1);
  } else if (!name.includes("/")) {
    repository = `library/${name}`;
  }
  if (
    !/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(repository)
  ) {
    throw new AteError(
      Code.InvalidArgument,
      `image "${ref}": repository "${repository}" is not a valid name`,
    );
  }
  return { registry, repository, ...(tag ? { tag } : {}), digest: digest ?? "" };
}

export function formatReference(r: ImageReference): string {
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ""}${r.digest ? `@${r.digest}` : ""}`;
}
