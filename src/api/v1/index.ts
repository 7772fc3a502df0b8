export {
  defaultNamespace,
  type Namespace,
  type NamespaceSpec,
  type NamespaceStatus,
  NamespaceType,
} from "./namespace.ts";
export { isConfigMapKey, maxSecretBytes, type Secret, SecretType, secretValues } from "./secret.ts";
