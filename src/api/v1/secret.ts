import { type FieldError, fieldErrors } from "../schema/field-error.ts";
import type { ObjectMeta, Resource, ResourceType } from "../schema/resource-type.ts";
import { s } from "../schema/schema.ts";
import { decodeStdBase64 } from "./base64.ts";

/**
 * The Kubernetes core `v1 Secret`, as the API server stores it: `data` holds base64 values,
 * `stringData` is write-only (merged into `data` on every write, never stored), `type` defaults
 * to Opaque, `immutable: true` freezes data for good. Only admins and the control plane read
 * Secrets (src/auth/resource-policy.ts); no error ever prints a value.
 */
export interface Secret {
  apiVersion: "v1";
  kind: "Secret";
  metadata: ObjectMeta;
  type?: string;
  /** Key → base64 of the value's bytes. */
  data?: Record<string, string>;
  /** Key → the value as text; only on input. */
  stringData?: Record<string, string>;
  immutable?: boolean;
}

/** Largest total of a Secret's decoded values (core.MaxSecretSize). */
export const maxSecretBytes = 1024 * 1024;

const redacted = "<secret contents redacted>";

const configKeyFmt = "[-._a-zA-Z0-9]+";
const configKeyRe = new RegExp(`^${configKeyFmt}$`);

/** validation.IsConfigMapKey: the keys of a Secret's data (also file names when mounted). */
export function isConfigMapKey(key: string): string[] {
  const errs: string[] = [];
  if (key.length > 253) errs.push("must be no more than 253 characters");
  if (!configKeyRe.test(key))
    errs.push(
      `a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '${configKeyFmt}')`,
    );
  if (key === ".") errs.push("must not be '.'");
  else if (key === "..") errs.push("must not be '..'");
  else if (key.startsWith("..")) errs.push("must not start with '..'");
  return errs;
}

const isMap = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * `map[key] = value` as an own property whatever the key: `__proto__` is a valid key, which a
 * plain assignment would take as the map's prototype and so drop.
 */
function setKey(map: Record<string, string>, key: string, value: string): void {
  Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
}

/** What Go's encoding/json calls a JSON value's type in an UnmarshalTypeError. */
function jsonType(v: unknown): string {
  if (Array.isArray(v)) return "array";
  if (typeof v === "boolean") return "bool";
  return typeof v === "object" ? "object" : typeof v;
}

/**
 * The API server's decode of a Secret: every data value must be base64 (re-encoded
 * canonically), then stringData is merged over data (UTF-8 bytes) and dropped. A failure
 * refuses the object with the decoder's wording, which names fields and offsets, not values.
 */
function decodeSecret(o: Record<string, unknown>): string | undefined {
  const fail = (why: string) => `Secret in version "v1" cannot be handled as a Secret: ${why}`;
  const unmarshal = (v: unknown, field: string, goType: string) =>
    fail(
      `json: cannot unmarshal ${jsonType(v)} into Go struct field Secret.${field} of type ${goType}`,
    );
  const data: Record<string, string> = {};
  if (o.data !== undefined && o.data !== null) {
    if (!isMap(o.data)) return unmarshal(o.data, "data", "map[string][]uint8");
    for (const [key, value] of Object.entries(o.data)) {
      if (value === null) {
        setKey(data, key, "");
        continue;
      }
      if (typeof value !== "string") return unmarshal(value, "data", "[]uint8");
      const bytes = decodeStdBase64(value);
      if (bytes instanceof Error) return fail(bytes.message);
      setKey(data, key, bytes.toString("base64"));
    }
  }
  if (o.stringData !== undefined && o.stringData !== null) {
    if (!isMap(o.stringData)) return unmarshal(o.stringData, "stringData", "map[string]string");
    for (const [key, value] of Object.entries(o.stringData)) {
      if (typeof value !== "string" && value !== null)
        return unmarshal(value, "stringData", "string");
      setKey(data, key, Buffer.from(value ?? "", "utf8").toString("base64"));
    }
  }
  delete o.stringData;
  if (o.data !== undefined || Object.keys(data).length) o.data = data;
  return undefined;
}

/** The keys each well-known type requires (ValidateSecret's switch on the type). */
function typeErrors(secret: Secret, data: Record<string, string>): FieldError[] {
  const has = (k: string) => Object.hasOwn(data, k);
  const key = (k: string) => `data[${k}]`;
  const need = (...keys: string[]) =>
    keys.filter((k) => !has(k)).map((k) => fieldErrors.required(key(k)));
  const json = (k: string): FieldError[] => {
    if (!has(k)) return [fieldErrors.required(key(k))];
    try {
      JSON.parse(Buffer.from(data[k] as string, "base64").toString("utf8"));
      return [];
    } catch {
      return [fieldErrors.invalid(key(k), redacted, "invalid JSON")];
    }
  };
  switch (secret.type) {
    case "kubernetes.io/service-account-token":
      return secret.metadata.annotations?.["kubernetes.io/service-account.name"]
        ? []
        : [fieldErrors.required("metadata.annotations[kubernetes.io/service-account.name]")];
    case "kubernetes.io/dockercfg":
      return json(".dockercfg");
    case "kubernetes.io/dockerconfigjson":
      return json(".dockerconfigjson");
    case "kubernetes.io/basic-auth":
      return has("username") || has("password") ? [] : need("username", "password");
    case "kubernetes.io/ssh-auth":
      return need("ssh-privatekey");
    case "kubernetes.io/tls":
      return need("tls.crt", "tls.key");
    default:
      return [];
  }
}

const immutableWhenSet = "field is immutable when `immutable` is set";

/** ValidateSecret and, on update, ValidateSecretUpdate; errors name keys, never values. */
function validateSecret(object: Resource, old: Resource | undefined): FieldError[] {
  const secret = object as unknown as Secret;
  const data = secret.data ?? {};
  const errs: FieldError[] = [];
  let total = 0;
  for (const [key, value] of Object.entries(data)) {
    for (const msg of isConfigMapKey(key)) errs.push(fieldErrors.invalid(`data[${key}]`, key, msg));
    total += Buffer.byteLength(value, "base64");
  }
  if (total > maxSecretBytes) errs.push(fieldErrors.tooLong("data", maxSecretBytes));
  errs.push(...typeErrors(secret, data));
  if (old) {
    const before = old as unknown as Secret;
    if ((before.type ?? "Opaque") !== secret.type)
      errs.push(fieldErrors.invalid("type", secret.type, "field is immutable"));
    if (before.immutable === true) {
      if (secret.immutable !== true)
        errs.push(fieldErrors.forbidden("immutable", immutableWhenSet));
      if (JSON.stringify(sorted(before.data)) !== JSON.stringify(sorted(secret.data)))
        errs.push(fieldErrors.forbidden("data", immutableWhenSet));
    }
  }
  return errs;
}

const sorted = (m: Record<string, string> | undefined) =>
  Object.entries(m ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

export const SecretType: ResourceType = {
  group: "",
  version: "v1",
  kind: "Secret",
  plural: "secrets",
  singular: "secret",
  shortNames: [],
  scope: "Namespaced",
  description:
    "Secret holds secret data of a certain type. The total bytes of the values in the Data field must be less than MaxSecretSize bytes.",
  fields: {
    type: s.defaulted(
      s.string({ description: "Used to facilitate programmatic handling of secret data." }),
      "Opaque",
    ),
    data: s.map(s.string({ format: "byte" }), {
      description:
        "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string.",
    }),
    stringData: s.map(s.string(), {
      description:
        "stringData allows specifying non-binary secret data in string form. It is provided as a write-only input field for convenience.",
    }),
    immutable: s.boolean({
      description:
        "Immutable, if set to true, ensures that data stored in the Secret cannot be updated (only object metadata can be modified).",
    }),
  },
  secretFields: ["data", "stringData"],
  printerColumns: [
    { name: "Type", type: "string", jsonPath: ".type" },
    {
      name: "Data",
      type: "integer",
      jsonPath: ".data",
      description: "The number of keys in data (never their values).",
      value: (o) => Object.keys((o as unknown as Secret).data ?? {}).length,
    },
    { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
  ],
  decode: decodeSecret,
  validate: validateSecret,
};

/** A stored Secret's values, decoded as UTF-8 text, by key. */
export function secretValues(object: Resource | Secret): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries((object as Secret).data ?? {}))
    setKey(out, key, Buffer.from(value, "base64").toString("utf8"));
  return out;
}
