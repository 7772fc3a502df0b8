/**
 * Exact comparison of Kubernetes quantities, for the CEL `quantity` library (rules such as
 * the anchor's `!quantity(self.resources.limits['memory']).isLessThan(quantity('256Mi'))`).
 * Unlike parseMemory/parseCpu nothing is rounded: `1Gi` and `1073741824` compare equal,
 * `1.5` is greater than `1500m` by nothing.
 */
import { binaryPowers, decimalPowers, syntax } from "./quantity.ts";

/** value = num × 10^exp10, exactly. */
export interface ExactQuantity {
  readonly num: bigint;
  readonly exp10: number;
}

/** Beyond these, no quantity a manifest means; they would only make the arithmetic slow. */
const maxText = 64;
const maxExponent = 400;

/** The exact value of a quantity string, or undefined when it is not one. */
export function exactQuantity(text: string): ExactQuantity | undefined {
  if (text.length > maxText) return undefined;
  const m = syntax.exec(text);
  if (!m) return undefined;
  const [, sign, mantissa = "", binary, decimal, exponent] = m;
  if (exponent !== undefined && !/^[+-]?[0-9]+$/.test(exponent)) return undefined;
  const e = decimal ? (decimalPowers[decimal] ?? 0) : exponent ? Number(exponent) : 0;
  if (Math.abs(e) > maxExponent) return undefined;
  const [whole = "", fraction = ""] = mantissa.split(".");
  let num = BigInt(`${whole}${fraction}` || "0");
  if (binary) num *= 2n ** BigInt(10 * (binaryPowers[binary] ?? 0));
  return { num: sign === "-" ? -num : num, exp10: e - fraction.length };
}

/** -1, 0 or 1 as a is less than, equal to or greater than b. */
export function compareQuantities(a: ExactQuantity, b: ExactQuantity): -1 | 0 | 1 {
  const shift = a.exp10 - b.exp10;
  const x = shift >= 0 ? a.num * 10n ** BigInt(shift) : a.num;
  const y = shift >= 0 ? b.num : b.num * 10n ** BigInt(-shift);
  return x < y ? -1 : x > y ? 1 : 0;
}
