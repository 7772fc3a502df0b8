import { AteError, Code } from "../errors/index.ts";

/** Keys are relative, slash-separated, without empty, `.` or `..` segments. */
export function checkKey(key: string): string {
  if (
    key === "" ||
    key.split("/").some((s) => s === "" || s === "." || s === "..") ||
    key.includes("\0")
  ) {
    throw new AteError(Code.InvalidArgument, `blob key "${key}" is not a clean relative path`);
  }
  return key;
}

export function joinKey(prefix: string, key: string): string {
  return prefix ? `${prefix.replace(/\/+$/, "")}/${key}` : key;
}
