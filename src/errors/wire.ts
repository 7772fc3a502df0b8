import { AteError } from "./ate-error.ts";
import { Code, codeFromName, codeName } from "./code.ts";

/** How an ate server puts an error in an HTTP body (besides the Control service's own). */
export interface ErrorBody {
  code: string;
  message: string;
  details: readonly string[];
}

export function toErrorBody(e: AteError): ErrorBody {
  return { code: codeName(e.code), message: e.message, details: e.details };
}

/** The AteError an error response carries; a body that is not an ErrorBody becomes the message. */
export function fromErrorBody(status: number, text: string): AteError {
  let e: Partial<ErrorBody> = {};
  try {
    e = JSON.parse(text) as Partial<ErrorBody>;
  } catch {
    e = { message: text.trim() };
  }
  return new AteError(
    codeFromName(e.code ?? "") ?? Code.Unknown,
    e.message || `HTTP ${status}`,
    e.details ?? [],
  );
}
