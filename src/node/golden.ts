import { createHash } from "node:crypto";

/**
 * Golden actors: the golden controller boots one per ActorTemplate in this atespace and
 * suspends it into the template's golden snapshot. The node agent knows the names too, to
 * check that a golden snapshot it restores is the one made for the actor's own template, so
 * the names are defined here, at the lowest layer that needs them.
 */
export const goldenAtespace = "ate-golden";

/** The golden actor's id for a template: readable, a DNS label, unique per namespace/name. */
export function goldenActorId(namespace: string, name: string): string {
  const hash = createHash("sha256").update(`${namespace}/${name}`).digest("hex").slice(0, 8);
  return `${`${namespace}-${name}`.slice(0, 54).replace(/-+$/, "")}-${hash}`;
}
