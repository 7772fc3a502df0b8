/**
 * Kubernetes resource quantities (`256Mi`, `1G`, `500m`, `2`, `0.5`, `1e3`) as whole bytes or
 * millicores, and back for display. Values are computed exactly (BigInt) and rounded up, as
 * Kubernetes' Quantity.Value and MilliValue do.
 */
import { AteError, Code } from "../../errors/index.ts";

/** sign, mantissa, then a binary suffix, a decimal suffix or a decimal exponent. */
export const syntax =
  /^([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:([KMGTPE]i)|([numkMGTPE])|[eE]([+-]?[0-9]+(?:\.[0-9]*)?|[+-]?\.[0-9]+))?$/;

export const binaryPowers: Record<string, number> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };
export const decimalPowers: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};

/** Longer inputs are surely not meant (and would only make the arithmetic slow). */
const maxLength = 64;

function invalid(field: string, value: unknown, detail: string): AteError {
  return new AteError(Code.InvalidArgument, `${field}: Invalid value: ${shown(value)}: ${detail}`);
}

/**
 * A value as messages quote it: JSON, cut short when long. A pool's status holds the message
 * (at most 32 KiB) and every refusal is logged, so a 200 KB value must not be repeated whole.
 */
export function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length <= 2 * maxLength
    ? text
    : `${text.slice(0, maxLength)}… (${text.length} characters)`;
}

/**
 * The quantity in units of 10^-scale (scale 0: whole units; 3: thousandths), rounded up;
 * refused (naming `field`) when malformed, negative, fractional in its exponent or too large.
 */
function parse(field: string, value: unknown, scale: number, example: string): number {
  const text = typeof value === "number" && Number.isFinite(value) ? String(value) : value;
  if (typeof text !== "string" || text.length > maxLength)
    throw invalid(field, value, `must be a quantity such as ${example}`);
  const m = syntax.exec(text);
  if (!m) throw invalid(field, value, `must be a quantity such as ${example}`);
  const [, sign, mantissa = "", binary, decimal, exponent] = m;
  if (exponent !== undefined && !/^[+-]?[0-9]+$/.test(exponent))
    throw invalid(field, value, "the exponent must be a whole number");
  const [whole = "", fraction = ""] = mantissa.split(".");
  const digits = BigInt(`${whole}${fraction}` || "0");
  if (digits === 0n) return 0;
  if (sign === "-") throw invalid(field, value, "must not be negative");
  // digits × 2^(10·k) × 10^power, with power including the mantissa's fraction and the scale.
  const k = binary ? (binaryPowers[binary] ?? 0) : 0;
  const e = decimal ? (decimalPowers[decimal] ?? 0) : exponent ? Number(exponent) : 0;
  const power = e + scale - fraction.length;
  const tooLarge = () => invalid(field, value, "is too large");
  // Bounds that no value within maxLength digits can cross back from.
  if (power > maxLength) throw tooLarge();
  let result: bigint;
  if (power >= 0) result = digits * 2n ** BigInt(10 * k) * 10n ** BigInt(power);
  else if (power < -2 * maxLength - 60) result = 1n;
  else {
    const divisor = 10n ** BigInt(-power);
    const n = digits * 2n ** BigInt(10 * k);
    result = (n + divisor - 1n) / divisor;
  }
  if (result > BigInt(Number.MAX_SAFE_INTEGER)) throw tooLarge();
  return Number(result);
}

/** A memory quantity (`256Mi`, `1G`, `134217728`) in bytes; `field` names it in errors. */
export function parseMemory(field: string, value: unknown): number {
  return parse(field, value, 0, "256Mi or 1G");
}

/** A CPU quantity (`500m`, `2`, `0.5`) in thousandths of a core; `field` names it in errors. */
export function parseCpu(field: string, value: unknown): number {
  return parse(field, value, 3, "500m, 0.5 or 2");
}

/** Bytes as the shortest exact quantity: `256Mi`, `1G`, `1536Mi`, `1000`. */
export function formatMemory(bytes: number): string {
  let best = String(bytes);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) return best;
  const candidates: [number, string][] = [
    ...Object.entries(binaryPowers).map(([s, k]): [number, string] => [1024 ** k, s]),
    ...(["k", "M", "G", "T", "P", "E"] as const).map((s): [number, string] => [
      10 ** (decimalPowers[s] ?? 0),
      s,
    ]),
  ];
  for (const [unit, suffix] of candidates) {
    if (bytes % unit !== 0) continue;
    const text = `${bytes / unit}${suffix}`;
    // Shorter wins; on a tie the binary form (listed first) stays.
    if (text.length < best.length) best = text;
  }
  return best;
}

/** Millicores as Kubernetes writes them: `2` for whole cores, else `500m`. */
export function formatCpu(millis: number): string {
  return millis % 1000 === 0 ? String(millis / 1000) : `${millis}m`;
}
