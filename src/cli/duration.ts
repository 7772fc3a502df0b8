import { AteError, Code } from "../errors/index.ts";

const unitMs: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `30m`, `24h`, `7d`, `1h30m` → milliseconds; anything else is an error naming the flag. */
export function parseDuration(text: string, flag: string): number {
  const parts = text.length <= 32 ? [...text.matchAll(/(\d+)([smhd])/g)] : [];
  const whole = parts.map((p) => p[0]).join("");
  if (!parts.length || whole !== text)
    throw new AteError(
      Code.InvalidArgument,
      `${flag} ${JSON.stringify(text)}: give a duration like 90s, 30m, 24h, 7d or 1h30m`,
    );
  return parts.reduce((ms, p) => ms + Number(p[1]) * (unitMs[p[2] as string] as number), 0);
}
