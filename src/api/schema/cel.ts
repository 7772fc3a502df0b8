/**
 * The CEL environment that evaluates `x-kubernetes-validations` rules and admission policy
 * expressions. Standard CEL comes from @marcbachmann/cel-js; the Kubernetes extension
 * libraries that ate's rules use are registered on it with Kubernetes' semantics.
 */
import { Environment, Optional } from "@marcbachmann/cel-js";
import {
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidLabelValue,
} from "../names/index.ts";
import { compareQuantities, type ExactQuantity, exactQuantity } from "../quantity/index.ts";
import type { JSONSchemaProps } from "./schema.ts";

/** Kubernetes' `format` library: `format.dns1123Label().validate(s)` → optional list of errors. */
class FormatLibrary {}
class NamedFormat {
  constructor(
    readonly name: string,
    readonly check: (v: string) => string[],
  ) {}
}

/** Kubernetes' `quantity` library (the part ate's rules use), compared exactly. */
class Quantity {
  constructor(readonly exact: ExactQuantity) {}
}

function toQuantity(text: string): Quantity {
  const exact = exactQuantity(text);
  if (!exact)
    throw new Error(
      `quantities must match the regular expression for a quantity: ${JSON.stringify(text.slice(0, 64))}`,
    );
  return new Quantity(exact);
}

const formats: Record<string, (v: string) => string[]> = {
  dns1123Label: isDNS1123Label,
  dns1123Subdomain: isDNS1123Subdomain,
  dns1035Label: isDNS1035Label,
  qualifiedName: isQualifiedName,
  labelValue: isValidLabelValue,
};

function buildEnvironment(): Environment {
  const env = new Environment({ enableOptionalTypes: true, homogeneousAggregateLiterals: false })
    .registerType("kubernetes.FormatLibrary", FormatLibrary)
    .registerType("kubernetes.NamedFormat", NamedFormat)
    .registerConstant("format", "kubernetes.FormatLibrary", new FormatLibrary())
    .registerType("kubernetes.Quantity", Quantity);
  env.registerFunction({
    name: "quantity",
    returnType: "kubernetes.Quantity",
    params: [{ name: "value", type: "string" }],
    handler: toQuantity,
  });
  env.registerFunction({
    name: "isQuantity",
    returnType: "bool",
    params: [{ name: "value", type: "string" }],
    handler: (value: string) => exactQuantity(value) !== undefined,
  });
  const compare = (name: string, returnType: string, of: (c: -1 | 0 | 1) => unknown) =>
    env.registerFunction({
      name,
      receiverType: "kubernetes.Quantity",
      returnType,
      params: [{ name: "other", type: "kubernetes.Quantity" }],
      handler: (a: Quantity, b: Quantity) => of(compareQuantities(a.exact, b.exact)),
    });
  compare("isLessThan", "bool", (c) => c < 0);
  compare("isGreaterThan", "bool", (c) => c > 0);
  compare("compareTo", "int", (c) => BigInt(c));
  for (const [name, check] of Object.entries(formats)) {
    env.registerFunction({
      name,
      receiverType: "kubernetes.FormatLibrary",
      returnType: "kubernetes.NamedFormat",
      params: [],
      handler: () => new NamedFormat(name, check),
    });
  }
  env.registerFunction({
    name: "named",
    receiverType: "kubernetes.FormatLibrary",
    returnType: "optional<kubernetes.NamedFormat>",
    params: [{ name: "name", type: "string" }],
    handler: (_lib: FormatLibrary, name: string) => {
      const check = formats[name];
      return check ? Optional.of(new NamedFormat(name, check)) : Optional.none();
    },
  });
  env.registerFunction({
    name: "validate",
    receiverType: "kubernetes.NamedFormat",
    returnType: "optional<list<string>>",
    params: [{ name: "value", type: "string" }],
    handler: (f: NamedFormat, value: string) => {
      const errs = f.check(value);
      return errs.length ? Optional.of(errs) : Optional.none();
    },
  });
  // Variables of x-kubernetes-validations rules, and of admission policy expressions.
  for (const v of ["self", "oldSelf", "object", "oldObject", "request", "params"]) {
    env.registerVariable(v, "dyn");
  }
  return env;
}

const environment = buildEnvironment();
type Program = ReturnType<Environment["parse"]>;
const programs = new Map<string, Program>();

/** Parses (once, cached) an expression; throws a ParseError naming the problem. */
export function compileCel(expression: string): Program {
  let program = programs.get(expression);
  if (!program) {
    program = environment.parse(expression);
    programs.set(expression, program);
  }
  return program;
}

export function evaluateCel(expression: string, vars: Record<string, unknown>): unknown {
  return compileCel(expression)(vars);
}

/**
 * Converts a JSON value to the CEL value Kubernetes would build from it under `schema`:
 * integers become CEL ints (bigint), everything else keeps its JSON shape.
 */
export function toCelValue(value: unknown, schema: JSONSchemaProps | undefined): unknown {
  if (Array.isArray(value)) return value.map((v) => toCelValue(v, schema?.items));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = toCelValue(v, schema?.properties?.[k] ?? schema?.additionalProperties);
    }
    return out;
  }
  if (typeof value === "number" && Number.isInteger(value) && schema?.type !== "number") {
    return BigInt(value);
  }
  return value;
}
