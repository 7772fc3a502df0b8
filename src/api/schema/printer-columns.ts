import type { PrinterColumn, Resource } from "./resource-type.ts";

// What a kind's printer columns show, for both the CLI's tables and the API's Table responses
// (kubectl), so the two print the same.

/** A column's raw value in an object: its own function, else its simple `.a.b` JSON path. */
export function columnValue(column: PrinterColumn, object: Resource): unknown {
  if (column.value) return column.value(object);
  let value: unknown = object;
  for (const key of column.jsonPath.replace(/^\./, "").split(".")) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** A short age like kubectl prints it (`45s`, `3m20s`, `5h`, `12d`, `2y30d`). */
export function humanAge(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 192) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (days < 730) return `${days}d`;
  const years = Math.floor(days / 365);
  if (years < 8) return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
  return `${years}y`;
}
