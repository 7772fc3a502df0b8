export { AteError, isAteError } from "./ate-error.ts";
export { Code, codeFromName, codeName, httpStatus } from "./code.ts";
export { fromConnectError, toConnectError, withConnectErrors } from "./connect.ts";
export { serverUnreachable } from "./unreachable.ts";
export { type ErrorBody, fromErrorBody, toErrorBody } from "./wire.ts";
