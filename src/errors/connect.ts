import { type Code as ConnectCode, ConnectError } from "@connectrpc/connect";
import { AteError } from "./ate-error.ts";
import type { Code } from "./code.ts";

/** Any error as a ConnectError with the same code (the numbers are gRPC's in both). */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  const e = AteError.from(err);
  return new ConnectError(e.message, e.code as unknown as ConnectCode);
}

/** A service method whose AteErrors reach the caller with their codes. */
export function withConnectErrors<A extends unknown[], R>(
  f: (...args: A) => Promise<R>,
): (...args: A) => Promise<R> {
  return async (...args: A) => {
    try {
      return await f(...args);
    } catch (err) {
      throw toConnectError(err);
    }
  };
}

/** What a Connect client's error stands for: an AteError with the same code and the server's message. */
export function fromConnectError(err: unknown): AteError {
  if (err instanceof AteError) return err;
  const e = ConnectError.from(err);
  return new AteError(e.code as unknown as Code, e.rawMessage, [], { cause: err });
}
