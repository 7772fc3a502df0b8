// Which kinds a CLI argument names. Apart from records.ts and tokens.ts, which load the API's
// descriptors, so a command decides what it is about before (and without) loading them.
import { AteError, Code } from "../../errors/index.ts";

export type RecordKind = "actor" | "worker" | "atespace";

const kindNames: Record<string, RecordKind> = {
  actor: "actor",
  actors: "actor",
  worker: "worker",
  workers: "worker",
  atespace: "atespace",
  atespaces: "atespace",
};

/** The record kind a CLI argument names (`actors`, `Actor`, …), if it names one. */
export function recordKind(arg: string): RecordKind | undefined {
  return kindNames[arg.toLowerCase()];
}

/** The kind, or an error listing the kinds the command accepts. */
export function requireKind(
  arg: string,
  accepted: readonly RecordKind[],
  command: string,
): RecordKind {
  const kind = recordKind(arg);
  if (!kind || !accepted.includes(kind))
    throw new AteError(
      Code.InvalidArgument,
      `ate ${command} does not work on "${arg}": use ${accepted.map((k) => `ate ${command} ${k}`).join(" or ")}`,
    );
  return kind;
}

/** Whether a CLI argument names snapshot tags (`snapshottag`, `snapshottags`). */
export function isSnapshotTagKind(arg: string): boolean {
  return /^snapshottags?$/i.test(arg);
}

/** Whether a CLI argument names tokens (`token`, `tokens`). */
export function isTokenKind(arg: string): boolean {
  return /^tokens?$/i.test(arg);
}
