// Connect's error mapping (connect.ts) is imported from its own file, not from here: it loads
// Connect and the protobuf runtime, which the CLI's light commands never need.
export { AteError, isAteError } from "./ate-error.ts";
export { Code, codeFromName, codeName, httpStatus } from "./code.ts";
export { serverUnreachable } from "./unreachable.ts";
export { type ErrorBody, fromErrorBody, toErrorBody } from "./wire.ts";
