import {
  columnValue,
  groupOf,
  humanAge,
  type PrinterColumn,
  type Resource,
  type ResourceType,
} from "../api/schema/index.ts";
import { AteError, Code } from "../errors/index.ts";

export type OutputFormat = "table" | "wide" | "yaml" | "json" | "name";

export const outputFormats: readonly OutputFormat[] = ["table", "wide", "yaml", "json", "name"];

/** `-o` as given (absent: a table), or an error listing the formats. */
export function parseOutputFormat(output: string | undefined): OutputFormat {
  if (output === undefined) return "table";
  if ((outputFormats as readonly string[]).includes(output) && output !== "table")
    return output as OutputFormat;
  throw new AteError(
    Code.InvalidArgument,
    `unable to match a printer for output format "${output}": use one of wide, yaml, json, name`,
  );
}

/** `sandboxconfig.ate.dev/gvisor-default`, or `secret/db` for a core kind, as kubectl names objects. */
export function qualifiedName(type: ResourceType, name: string): string {
  return `${qualifiedKind(type)}/${name}`;
}

/** `sandboxconfig.ate.dev`, or `secret` for a core kind. */
export function qualifiedKind(type: ResourceType): string {
  const group = groupOf(type);
  return group ? `${type.singular}.${group}` : type.singular;
}

/** Reads a printer column's simple JSONPath (`.spec.sandboxClass`) from an object. */
function cell(column: PrinterColumn, object: Resource, now: Date): string {
  const value = columnValue(column, object);
  if (column.type === "date")
    return typeof value === "string" ? humanAge(now.getTime() - Date.parse(value)) : "<unknown>";
  if (column.type === "boolean") return value === true ? "true" : "false";
  if (value === undefined || value === null || value === "") return "<none>";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

/** kubectl-like table: NAME (NAMESPACE first with -A), then the kind's printer columns. */
export function formatTable(
  type: ResourceType,
  items: readonly Resource[],
  opts: { wide: boolean; withNamespace: boolean; now: Date },
): string {
  const columns = type.printerColumns.filter((c) => opts.wide || !c.priority);
  const header = [
    ...(opts.withNamespace ? ["NAMESPACE"] : []),
    "NAME",
    ...columns.map((c) => c.name.toUpperCase()),
  ];
  const rows = items.map((o) => [
    ...(opts.withNamespace ? [o.metadata.namespace ?? ""] : []),
    o.metadata.name,
    ...columns.map((c) => cell(c, o, opts.now)),
  ]);
  return renderTable(header, rows);
}

/** Columns padded to their widest cell, three spaces apart, as kubectl prints them. */
export function renderTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3)))
      .join("")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** One object as is, or several as a `List`, like `kubectl get -o yaml|json`. */
export async function formatObjects(
  items: readonly Resource[],
  format: "yaml" | "json",
  single: boolean,
): Promise<string> {
  const value = single
    ? items[0]
    : { apiVersion: "v1", kind: "List", items, metadata: { resourceVersion: "" } };
  return format === "json"
    ? JSON.stringify(value, null, 4)
    : yamlText(value, { lineWidth: 0, aliasDuplicateObjects: false });
}

/**
 * YAML text of a value. The yaml package is loaded only here, for -o yaml: it is the largest
 * module a light command would otherwise load at every start.
 */
export async function yamlText(
  value: unknown,
  options?: { lineWidth: number; aliasDuplicateObjects?: boolean },
): Promise<string> {
  const yaml = await import("yaml");
  // Built into dist/, this is yaml's CommonJS build, whose dynamic import has only a default
  // export (from source, Node also gives its named exports).
  const { stringify } =
    "stringify" in yaml ? yaml : (yaml as unknown as { default: typeof yaml }).default;
  return stringify(value, options).trimEnd();
}
