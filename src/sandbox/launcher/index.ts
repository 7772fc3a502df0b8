// Short commands (runsc state/checkpoint/pause/resume…, ip, iptables-restore) run from a
// small long-lived process instead of the agent: see launcher.ts.
export { runDirect } from "./direct.ts";
export { launcherPid, runShort, startLauncher, stopLauncher } from "./launcher.ts";
export type { ShortCommand, ShortResult } from "./types.ts";
