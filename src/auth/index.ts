export { type ActorTokenSubject, ActorTokens, parseActorToken } from "./actor-token.ts";
export {
  type AdminCredential,
  adminTokenNameFor,
  adminTokenPath,
  ensureAdminCredential,
  writeAdminClientConfig,
} from "./admin-credential.ts";
export { adminService, localAdminTokenName, tokenToWire } from "./admin-service.ts";
export { writeClientConfig } from "./client-config.ts";
export {
  authorizeAdmin,
  authorizeControl,
  authorizeControlCall,
  type ControlDecision,
  type ControlRequest,
  controlAuthorization,
} from "./control-policy.ts";
export {
  authorizeAssetFetch,
  authorizeMachineCall,
  authorizeNodeRegistry,
  nodeRegistryAuthorization,
  nodeRegistryService,
  registrationName,
} from "./machine-policy.ts";
export {
  describePrincipal,
  type Principal,
  type Role,
  roles,
  type TokenInfo,
} from "./principal.ts";
export { principalKey } from "./request-principal.ts";
export {
  authorizeActorLogs,
  authorizeApiDiscovery,
  authorizeResource,
  type ResourceVerb,
} from "./resource-policy.ts";
export { maxTtlMs, type NewToken, TokenStore } from "./token-store.ts";
export { parseToken } from "./token-text.ts";
