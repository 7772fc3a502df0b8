import { isDNS1123Label, isDNS1123Subdomain } from "../../api/names/index.ts";
import { AteError, Code } from "../../errors/index.ts";

/**
 * Field checks for what arrives over the node API: every name that becomes a path or a
 * network name on the node is checked here, before the agent sees it, and every number is
 * one JavaScript holds exactly. Errors name the field as the proto spells it.
 */

export function invalid(field: string, value: unknown, why: string): AteError {
  return new AteError(
    Code.InvalidArgument,
    `${field}: Invalid value: ${JSON.stringify(value)}: ${why}`,
  );
}

export function required<T>(field: string, value: T | undefined): T {
  if (value === undefined) throw new AteError(Code.InvalidArgument, `${field}: Required value`);
  return value;
}

export function label(field: string, value: string): string {
  const bad = isDNS1123Label(value);
  if (bad.length) throw invalid(field, value, bad.join("; "));
  return value;
}

export function subdomain(field: string, value: string): string {
  const bad = isDNS1123Subdomain(value);
  if (bad.length) throw invalid(field, value, bad.join("; "));
  return value;
}

/** A non-empty string of at most `max` characters, without control characters. */
export function text(field: string, value: string, max = 4096): string {
  if (value.length === 0) throw new AteError(Code.InvalidArgument, `${field}: Required value`);
  if (value.length > max) throw invalid(field, `${value.slice(0, 64)}…`, `longer than ${max}`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
  if (/[\u0000-\u001f\u007f]/.test(value)) throw invalid(field, value, "has control characters");
  return value;
}

/** An int64 as a number: never negative, never past what a number holds exactly. */
export function count(field: string, value: bigint): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER))
    throw invalid(field, value.toString(), `must be between 0 and ${Number.MAX_SAFE_INTEGER}`);
  return Number(value);
}

export function oneOf<T extends string>(field: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value))
    throw invalid(field, value, `must be one of ${allowed.join(", ")}`);
  return value as T;
}
