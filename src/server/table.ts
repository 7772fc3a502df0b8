// Server-side printing for kubectl: a list, an object or a watch event rendered as a
// meta.k8s.io Table with the kind's printer columns (the CRDs' additionalPrinterColumns), as
// a Kubernetes API server renders custom resources. kubectl asks for it with
// `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` and prints the cells as they are.
import {
  columnValue,
  humanAge,
  type PrinterColumn,
  type Resource,
  type ResourceType,
} from "../api/schema/index.ts";
import { AteError, Code } from "../errors/index.ts";

/** The Table version the client asked for, or undefined when it wants the objects. */
export function wantedTableVersion(accept: string | undefined): string | undefined {
  if (!accept) return undefined;
  for (const part of accept.split(",")) {
    const params = new Map(
      part
        .split(";")
        .slice(1)
        .map((p) => p.trim().split("=") as [string, string]),
    );
    if (params.get("as") !== "Table" || params.get("g") !== "meta.k8s.io") continue;
    const v = params.get("v");
    if (v === "v1" || v === "v1beta1") return `meta.k8s.io/${v}`;
  }
  return undefined;
}

/** `?includeObject=`: what each row carries besides its cells (Kubernetes' default: Metadata). */
export type IncludeObject = "None" | "Metadata" | "Object";

export function includeObjectParam(value: string | null): IncludeObject {
  if (value === null || value === "") return "Metadata";
  if (value === "None" || value === "Metadata" || value === "Object") return value;
  throw new AteError(
    Code.InvalidArgument,
    `includeObject ${JSON.stringify(value.slice(0, 40))} is not one of None, Metadata, Object`,
  );
}

const nameColumn = {
  name: "Name",
  type: "string",
  format: "name",
  description:
    "Name must be unique within a namespace. It is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically.",
  priority: 0,
};

/** A kind without printer columns shows its age, as a CRD without additionalPrinterColumns does. */
function columnsOf(rt: ResourceType): readonly PrinterColumn[] {
  return rt.printerColumns.length
    ? rt.printerColumns
    : [{ name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }];
}

function columnDefinitions(rt: ResourceType): Record<string, unknown>[] {
  return [
    nameColumn,
    ...columnsOf(rt).map((c) => ({
      name: c.name,
      type: c.type === "date" ? "string" : c.type,
      format: c.type === "date" ? "date" : "",
      description: c.description ?? "",
      priority: c.priority ?? 0,
    })),
  ];
}

/** Reads a printer column's JSONPath: dotted field names, as every ate kind declares them. */
function cell(column: PrinterColumn, object: Resource, now: number): unknown {
  const value = columnValue(column, object);
  if (value === undefined || value === null) return null; // kubectl prints <none>
  if (column.type === "date")
    return typeof value === "string" ? humanAge(now - Date.parse(value)) : null;
  if (typeof value === "object") return JSON.stringify(value);
  return value;
}

function row(rt: ResourceType, object: Resource, include: IncludeObject, now: number) {
  return {
    cells: [object.metadata.name, ...columnsOf(rt).map((c) => cell(c, object, now))],
    ...(include === "None"
      ? {}
      : {
          object:
            include === "Object"
              ? object
              : {
                  kind: "PartialObjectMetadata",
                  apiVersion: "meta.k8s.io/v1",
                  metadata: object.metadata,
                },
        }),
  };
}

/** A Table of `objects`; the column definitions are always sent (kubectl 1.20 needs them in every watch event). */
export function toTable(
  rt: ResourceType,
  objects: readonly Resource[],
  o: { apiVersion: string; resourceVersion?: string; include: IncludeObject },
): Record<string, unknown> {
  const now = Date.now();
  return {
    kind: "Table",
    apiVersion: o.apiVersion,
    metadata: o.resourceVersion ? { resourceVersion: o.resourceVersion } : {},
    columnDefinitions: columnDefinitions(rt),
    rows: objects.map((obj) => row(rt, obj, o.include, now)),
  };
}
