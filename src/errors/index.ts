export { AteError, isAteError } from "./ate-error.ts";
export { Code, codeName, httpStatus } from "./code.ts";
