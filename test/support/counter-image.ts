// The counter actor's image (node + its libraries + counter.js), pushed to a test's registry.
import { pushNodeImage } from "./node-image.ts";

export function pushCounterImage(registryHost: string): Promise<string> {
  return pushNodeImage(registryHost, "counter");
}
