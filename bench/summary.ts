// One comparable line per figure: `bench: <name> <value> <unit> goal <op> <target> <ok|short>`.
// scripts/bench.mjs collects these lines from every bench file and prints them again at the end.

export type Goal = "<=" | ">=";

/** Whether value meets the goal. */
export function meets(value: number, op: Goal, target: number): boolean {
  return op === "<=" ? value <= target : value >= target;
}

/** Prints one summary line (and returns it, for tests). */
export function benchLine(
  name: string,
  value: number,
  unit: string,
  op: Goal,
  target: number,
): string {
  const digits = Math.abs(value) >= 100 ? 0 : 2;
  const line = `bench: ${name} ${value.toFixed(digits)} ${unit} goal ${op} ${target} ${meets(value, op, target) ? "ok" : "short"}`;
  console.log(line);
  return line;
}

/** Prints a figure that has no goal, only a value to compare across runs. */
export function benchInfo(name: string, value: number, unit: string): string {
  const digits = Math.abs(value) >= 100 ? 0 : 2;
  const line = `bench: ${name} ${value.toFixed(digits)} ${unit}`;
  console.log(line);
  return line;
}

/** The p-th quantile (0..1) of xs, nearest rank. */
export function quantile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(s.length * p) - 1))] as number;
}
