// `?fieldSelector=` as the API server takes it for custom resources: metadata.name and
// metadata.namespace only. kubectl sends `metadata.name=NAME` to watch one object (`kubectl
// get NAME -w`) and to wait for a deleted one to be gone (`kubectl delete`).
import type { Resource } from "../api/schema/index.ts";
import { AteError, Code } from "../errors/index.ts";

export type FieldSelector = (object: Resource) => boolean;

const fields = {
  "metadata.name": (o: Resource) => o.metadata.name,
  "metadata.namespace": (o: Resource) => o.metadata.namespace ?? "",
} as const;

/** The selector's test, or undefined for none; an unknown field or a bad term is a 400. */
export function parseFieldSelector(text: string | null): FieldSelector | undefined {
  if (!text) return undefined;
  const tests = text.split(",").map((term) => {
    const m = term.trim().match(/^([^=!]+?)\s*(==|=|!=)\s*(.*)$/);
    if (!m)
      throw new AteError(
        Code.InvalidArgument,
        `fieldSelector: invalid term ${JSON.stringify(term.slice(0, 100))}: write field=value or field!=value`,
      );
    const [, field, op, value] = m as unknown as [string, string, string, string];
    const read = fields[field as keyof typeof fields];
    if (!read)
      throw new AteError(
        Code.InvalidArgument,
        `fieldSelector: field label not supported: ${JSON.stringify(field.slice(0, 100))} (ate selects on ${Object.keys(fields).join(", ")})`,
      );
    return (o: Resource) => (read(o) === value) === (op !== "!=");
  });
  return (o) => tests.every((t) => t(o));
}
