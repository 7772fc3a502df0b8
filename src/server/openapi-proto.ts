// The OpenAPI v2 document in protobuf, the only form kubectl 1.20 reads from /openapi/v2 (it
// asks for `application/com.github.proto-openapi.spec.v2@v1.0+protobuf` and decodes whatever
// comes back as that message). Encoded by @bufbuild/protobuf from proto/openapi/v2.
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import {
  DocumentSchema,
  type NamedAny,
  type OperationSchema,
  type Schema,
  SchemaSchema,
} from "../proto/gen/openapi/v2/openapi_pb.ts";
import { openApiV2, type V2Operation, type V2Schema } from "./openapi.ts";

/**
 * What clients ask for: kubectl 1.20 `...spec.v2@v1.0+protobuf`, newer ones `...spec.v2.v1.0+protobuf`.
 * The answer is labelled with the latter: Go's mime parser refuses the "@" of the former.
 */
export const openApiProtoTypes = [
  "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
  "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
];
export const openApiProtoAnswerType = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/** kube-openapi parses every value (vendor extensions, enums) as YAML; JSON is YAML. */
const yamlAny = (value: unknown) => ({ yaml: JSON.stringify(value) });

function toProto(s: V2Schema): Schema {
  const init: MessageInitShape<typeof SchemaSchema> = {};
  if (s.$ref) init.ref = s.$ref;
  if (s.type) init.type = { value: [s.type] };
  if (s.format) init.format = s.format;
  if (s.description) init.description = s.description;
  if (s.required) init.required = s.required;
  if (s.pattern) init.pattern = s.pattern;
  if (s.minimum !== undefined) init.minimum = s.minimum;
  if (s.maximum !== undefined) init.maximum = s.maximum;
  if (s.minLength !== undefined) init.minLength = BigInt(s.minLength);
  if (s.maxLength !== undefined) init.maxLength = BigInt(s.maxLength);
  if (s.minItems !== undefined) init.minItems = BigInt(s.minItems);
  if (s.maxItems !== undefined) init.maxItems = BigInt(s.maxItems);
  if (s.enum) init.enum = s.enum.map(yamlAny);
  if (s.items) init.items = { schema: [toProto(s.items)] };
  if (s.additionalProperties)
    init.additionalProperties = {
      kind: { case: "schema", value: toProto(s.additionalProperties) },
    };
  if (s.properties)
    init.properties = {
      additionalProperties: Object.entries(s.properties).map(([name, value]) => ({
        name,
        value: toProto(value),
      })),
    };
  const gvk = s["x-kubernetes-group-version-kind"];
  if (gvk)
    init.vendorExtension = [
      { name: "x-kubernetes-group-version-kind", value: yamlAny(gvk) } as NamedAny,
    ];
  return create(SchemaSchema, init);
}

function operation(op: V2Operation): MessageInitShape<typeof OperationSchema> {
  return {
    operationId: op.operationId,
    description: op.description,
    consumes: op.consumes,
    parameters: op.parameters.map((p) => ({
      kind: {
        case: "parameter",
        value: {
          kind: {
            case: "nonBodyParameter",
            value: {
              kind: {
                case: "queryParameterSubSchema",
                value: { name: p.name, in: p.in, type: p.type, description: p.description },
              },
            },
          },
        },
      },
    })),
    vendorExtension: [
      {
        name: "x-kubernetes-group-version-kind",
        value: yamlAny(op["x-kubernetes-group-version-kind"]),
      },
    ],
  };
}

let cached: Uint8Array | undefined;

/** The document's bytes, encoded once. */
export function openApiV2Proto(): Uint8Array {
  if (cached) return cached;
  const doc = openApiV2();
  cached = toBinary(
    DocumentSchema,
    create(DocumentSchema, {
      swagger: doc.swagger,
      info: doc.info,
      paths: {
        path: Object.entries(doc.paths).map(([name, item]) => ({
          name,
          value: { patch: operation(item.patch) },
        })),
      },
      definitions: {
        additionalProperties: Object.entries(doc.definitions).map(([name, value]) => ({
          name,
          value: toProto(value),
        })),
      },
    }),
  );
  return cached;
}
