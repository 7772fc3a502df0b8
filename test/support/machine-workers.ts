// What of a substrate's workers is on the machine: network namespaces and host interfaces
// with its prefix, and runsc sandboxes under its node state (what a clean stop leaves none of).
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { workerIndexOf } from "../../src/sandbox/gvisor/index.ts";

/** Network namespaces and host interfaces named like this prefix's workers. */
export function workerNetworkNames(prefix: string): string[] {
  const ns = execFileSync("ip", ["-j", "netns", "list"], { encoding: "utf8" }).trim();
  const links = execFileSync("ip", ["-j", "link", "show"], { encoding: "utf8" }).trim();
  return [
    ...(JSON.parse(ns || "[]") as { name: string }[]).map((n) => n.name),
    ...(JSON.parse(links || "[]") as { ifname: string }[]).map((l) => l.ifname),
  ].filter((n) => workerIndexOf(prefix, n) !== undefined);
}

/** Sandboxes runsc knows under a node agent's state dir. */
export function sandboxesUnder(nodeDir: string): string[] {
  const out = execFileSync("runsc", [`--root=${join(nodeDir, "runsc")}`, "list", "-quiet"], {
    encoding: "utf8",
  });
  return out.split("\n").filter(Boolean);
}

/** The host addresses of every interface, by interface name. */
export function hostAddresses(): Map<string, string[]> {
  const out = execFileSync("ip", ["-j", "-4", "addr", "show"], { encoding: "utf8" }).trim();
  return new Map(
    (JSON.parse(out || "[]") as { ifname: string; addr_info?: { local: string }[] }[]).map((l) => [
      l.ifname,
      (l.addr_info ?? []).map((a) => a.local),
    ]),
  );
}
