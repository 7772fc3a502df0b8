/**
 * A tiny builder for Kubernetes structural schemas (the `openAPIV3Schema` of a CRD). Each
 * builder returns the exact JSON that lands in the generated CRD, and carries the TypeScript
 * type of the value it describes, so one declaration yields the types, the CRD, the defaults
 * and the embedded validation.
 */

/** One `x-kubernetes-validations` entry. */
export interface ValidationRule {
  rule: string;
  message?: string;
  /** Extra path the error is reported at, relative to the node (e.g. `.name`). */
  fieldPath?: string;
  reason?:
    | "FieldValueInvalid"
    | "FieldValueForbidden"
    | "FieldValueRequired"
    | "FieldValueDuplicate";
}

/** The subset of apiextensions.k8s.io/v1 JSONSchemaProps that ate's resources use. */
export interface JSONSchemaProps {
  type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
  description?: string;
  format?: string;
  default?: unknown;
  enum?: readonly (string | number)[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  properties?: Record<string, JSONSchemaProps>;
  required?: string[];
  additionalProperties?: JSONSchemaProps;
  items?: JSONSchemaProps;
  anyOf?: JSONSchemaProps[];
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-map-type"?: "atomic" | "granular";
  "x-kubernetes-validations"?: ValidationRule[];
}

declare const typeTag: unique symbol;

/** A schema node that describes values of type T. */
export type Schema<T> = JSONSchemaProps & { readonly [typeTag]?: T };

/** The TypeScript type a schema describes. */
export type Static<S> = S extends Schema<infer T> ? T : never;

declare const keyTag: unique symbol;
/** How an object property is declared: `required` and `defaulted` keys are always present. */
type Prop<T, K extends "optional" | "present"> = Schema<T> & { readonly [keyTag]?: K };
type PropertyMap = Record<string, Prop<unknown, "optional" | "present">>;

type PresentKeys<P> = {
  [K in keyof P]: P[K] extends { readonly [keyTag]?: "present" } ? K : never;
}[keyof P];
type Simplify<T> = { [K in keyof T]: T[K] } & {};
type ObjectOf<P extends PropertyMap> = Simplify<
  { [K in PresentKeys<P>]: Static<P[K]> } & {
    [K in Exclude<keyof P, PresentKeys<P>>]?: Static<P[K]>;
  }
>;

type Opts = Omit<
  JSONSchemaProps,
  "type" | "properties" | "items" | "additionalProperties" | "required" | "enum"
>;

const requiredMarker = Symbol("required");

export const s = {
  string<T extends string = string>(opts: Opts = {}): Schema<T> {
    return { type: "string", ...opts };
  },
  integer(opts: Opts = {}): Schema<number> {
    return { type: "integer", ...opts };
  },
  boolean(opts: Opts = {}): Schema<boolean> {
    return { type: "boolean", ...opts };
  },
  enum<const V extends readonly string[]>(values: V, opts: Opts = {}): Schema<V[number]> {
    return { type: "string", enum: values, ...opts };
  },
  array<T>(items: Schema<T>, opts: Opts = {}): Schema<T[]> {
    return { type: "array", items, ...opts };
  },
  /** A map with arbitrary string keys (`additionalProperties`). */
  map<T>(values: Schema<T>, opts: Opts = {}): Schema<Record<string, T>> {
    return { type: "object", additionalProperties: values, ...opts };
  },
  object<P extends PropertyMap>(properties: P, opts: Opts = {}): Schema<ObjectOf<P>> {
    const required = Object.keys(properties).filter(
      (k) => (properties[k] as Record<symbol, unknown>)[requiredMarker] === true,
    );
    const clean: Record<string, JSONSchemaProps> = {};
    for (const [k, v] of Object.entries(properties)) {
      const { [requiredMarker]: _, ...rest } = v as JSONSchemaProps & Record<symbol, unknown>;
      clean[k] = rest;
    }
    return { type: "object", properties: clean, ...(required.length ? { required } : {}), ...opts };
  },
  /** An integer or a string, like Kubernetes' IntOrString / resource quantities. */
  intOrString(opts: Opts = {}): Schema<number | string> {
    return { "x-kubernetes-int-or-string": true, ...opts };
  },
  /** Marks an object property required (listed in the parent's `required`). */
  required<T>(schema: Schema<T>): Prop<T, "present"> {
    return Object.assign({ ...schema }, { [requiredMarker]: true }) as Prop<T, "present">;
  },
  /** A property with a default: absent in input, always present once defaulted. */
  defaulted<T>(schema: Schema<T>, value: T): Prop<T, "present"> {
    return { ...schema, default: value } as Prop<T, "present">;
  },
  /** Attaches `x-kubernetes-validations` rules to a node. */
  rules<T>(schema: Schema<T>, ...rules: ValidationRule[]): Schema<T> {
    return {
      ...schema,
      "x-kubernetes-validations": [...(schema["x-kubernetes-validations"] ?? []), ...rules],
    };
  },
};
