// Which free workers a resume tries first: those on live nodes that cache more of what the
// actor needs (its pool's runtime assets for the node's arch, its images).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Worker } from "../records/index.ts";
import type { NodeInfo } from "./nodes.ts";
import { byCachedNeeds } from "./scheduler.ts";

const digest = (c: string) => c.repeat(64);
const image = `registry.local/app@sha256:${digest("c")}`;

function node(name: string, arch: string, assets: string[], images: string[]): NodeInfo {
  return {
    name,
    version: 1,
    url: `http://${name}:7444`,
    address: "10.0.0.1",
    arch,
    sandboxClasses: ["gvisor"],
    capacity: { workers: 8, source: "", memoryBytes: 0, cpuMillis: 0 },
    cachedAssets: assets,
    cachedImages: images,
    heartbeatAt: 0,
    state: "Ready",
    registeredAt: "",
  };
}

const worker = (name: string, nodeName: string): Worker => ({
  namespace: "default",
  pool: "p",
  name,
  uid: name,
  node: nodeName,
  address: "169.254.64.2",
  version: 1,
});

describe("preferring nodes that cache what an actor needs", () => {
  it("ranks by cached assets (for the node's arch) and images; leaves out nodes not live", () => {
    const needs = {
      images: [image],
      assets: new Map([["default/p", { amd64: [digest("a")], arm64: [digest("b")] }]]),
    };
    const tiers = byCachedNeeds(
      [
        worker("w-cold", "cold"),
        worker("w-both", "both"),
        worker("w-asset", "asset"),
        worker("w-arm", "arm"),
        worker("w-gone", "gone"),
        worker("w-both2", "both"),
      ],
      [
        node("cold", "amd64", [], []),
        node("both", "amd64", [digest("a")], [image]),
        node("asset", "amd64", [digest("a"), digest("b")], []),
        node("arm", "arm64", [digest("a")], []),
      ],
      needs,
    );
    assert.deepEqual(
      tiers.map((t) => t.map((w) => w.name)),
      [["w-both", "w-both2"], ["w-asset"], ["w-cold", "w-arm"]],
      "arm caches amd64's digest, not its own; gone is not live",
    );
  });
});
