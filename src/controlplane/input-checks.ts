import { isQualifiedName, isValidLabelValue } from "../api/names/index.ts";
import { AteError, Code } from "../errors/index.ts";
import { checkLabel } from "../records/index.ts";

/** An actor by atespace and name, as the Control service's calls name it. */
export interface ActorRef {
  atespace: string;
  name: string;
}

const maxSelectorLabels = 10;

/** Checks an actor_ref at the edge (INVALID_ARGUMENT naming the field). */
export function checkRef(ref: ActorRef | undefined): asserts ref is ActorRef {
  if (!ref) throw new AteError(Code.InvalidArgument, "actor_ref: Required value");
  checkLabel("actor_ref.atespace", ref.atespace);
  checkLabel("actor_ref.name", ref.name);
}

/** Checks a worker_selector's labels: at most maxSelectorLabels, each a valid label. */
export function checkSelector(selector: Record<string, string> | undefined): void {
  if (!selector) return;
  const entries = Object.entries(selector);
  if (entries.length > maxSelectorLabels) {
    throw new AteError(
      Code.InvalidArgument,
      `worker_selector.match_labels: Too many: ${entries.length}: must have at most ${maxSelectorLabels} items`,
    );
  }
  for (const [k, v] of entries) {
    const bad = [...isQualifiedName(k), ...isValidLabelValue(v)];
    if (bad.length)
      throw new AteError(
        Code.InvalidArgument,
        `worker_selector.match_labels: Invalid value: ${JSON.stringify(`${k}=${v}`)}: ${bad.join("; ")}`,
      );
  }
}
