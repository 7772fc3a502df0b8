import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * A token's text is `ate_<name>_<64 hex>`: the name finds its record, the 256-bit secret
 * proves possession. Only the secret's sha256 is stored.
 */
const tokenText = /^ate_([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)_([0-9a-f]{64})$/;

/** Longer than any token: a header this long is refused before any work. */
export const maxTokenLength = 4 + 63 + 1 + 64;

export function formatToken(name: string, secret: string): string {
  return `ate_${name}_${secret}`;
}

/** The name and secret of a token's text; undefined when it is not one. */
export function parseToken(text: string): { name: string; secret: string } | undefined {
  if (text.length > maxTokenLength) return undefined;
  const m = tokenText.exec(text);
  return m ? { name: m[1] as string, secret: m[3] as string } : undefined;
}

export function newSecret(): string {
  return randomBytes(32).toString("hex");
}

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** Whether the secret's hash is the stored one, in time independent of where they differ. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const stored = Buffer.from(storedHash, "hex");
  const given = createHash("sha256").update(secret).digest();
  return stored.length === given.length && timingSafeEqual(stored, given);
}
