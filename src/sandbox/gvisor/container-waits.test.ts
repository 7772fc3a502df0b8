import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { type ContainerEnd, waitForContainers } from "./container-waits.ts";

const dir = mkdtempSync(join(tmpdir(), "ate-container-waits-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A stand-in runsc whose `wait <id>` fails without a word its first `failures` times (as a
 * killed or crashed runsc does), then prints the container's exit status; each call counted.
 */
function fakeRunsc(name: string, failures: number, status: number): string {
  const bin = join(dir, name);
  writeFileSync(
    bin,
    `#!/bin/sh
n=$(cat "${bin}.calls" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "${bin}.calls"
[ "$n" -le ${failures} ] && exit 1
echo '{"id":"'"$3"'","exitStatus":${status}}'
`,
  );
  chmodSync(bin, 0o755);
  return bin;
}
const calls = (bin: string) => Number(readFileSync(`${bin}.calls`, "utf8"));

/** The waits hold nothing open (unref'd, as the agent needs): the test holds the loop. */
async function holdingTheLoop<T>(work: Promise<T>): Promise<T> {
  const hold = setInterval(() => {}, 1000);
  try {
    return await work;
  } finally {
    clearInterval(hold);
  }
}

function waitOnce(bin: string, running: (id: string) => Promise<boolean>): Promise<ContainerEnd[]> {
  return holdingTheLoop(
    new Promise((resolve) => {
      const ends: ContainerEnd[] = [];
      waitForContainers(
        bin,
        dir,
        [{ id: "s-sidecar", name: "sidecar" }],
        (end) => {
          ends.push(end);
          // Anything reported twice would arrive before this.
          setImmediate(() => resolve(ends));
        },
        running,
        1,
      );
    }),
  );
}

describe("waiting on a sandbox's further containers", () => {
  it("starts a failed runsc wait again while the container runs, and reports its real end", async () => {
    const bin = fakeRunsc("flaky", 2, 3);
    const asked: string[] = [];
    const ends = await waitOnce(bin, async (id) => {
      asked.push(id);
      return true;
    });
    assert.deepEqual(ends, [{ name: "sidecar", exitStatus: 3 }]);
    assert.equal(calls(bin), 3);
    assert.deepEqual(asked, ["s-sidecar", "s-sidecar"]);
  });

  it("takes a failed wait for the end when the container is gone", async () => {
    const bin = fakeRunsc("gone", 5, 0);
    const ends = await waitOnce(bin, async () => false);
    assert.deepEqual(ends, [{ name: "sidecar", exitStatus: undefined }]);
    assert.equal(calls(bin), 1);
  });

  it("gives up starting it again after a bound, saying it could not tell the status", async () => {
    const bin = fakeRunsc("broken", 1000, 0);
    const ends = await waitOnce(bin, async () => true);
    assert.deepEqual(ends, [{ name: "sidecar", exitStatus: undefined }]);
    assert.equal(calls(bin), 11);
  });

  it("reports nothing once cancelled, even while a wait is due to start again", async () => {
    const bin = fakeRunsc("cancelled", 1000, 0);
    let ended = false;
    let asked!: () => void;
    const checked = new Promise<void>((resolve) => {
      asked = resolve;
    });
    const waits = waitForContainers(
      bin,
      dir,
      [{ id: "s-sidecar", name: "sidecar" }],
      () => {
        ended = true;
      },
      async () => {
        asked();
        return true;
      },
      1,
    );
    await holdingTheLoop(checked);
    waits.cancel();
    // Absence takes a while to show: a wait started again would come within a millisecond.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(ended, false);
    assert.equal(calls(bin), 1);
  });
});
