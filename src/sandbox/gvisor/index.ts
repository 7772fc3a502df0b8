export { parseResolver } from "./dns-resolvers.ts";
export { checkEgressAllow, checkEgressDeny, defaultDeny } from "./egress-cidr.ts";
export type { ControlApiGateway, EgressOptions } from "./egress-worker.ts";
export { GvisorDriver, type GvisorDriverOptions } from "./gvisor-driver.ts";
export {
  checkNetworkPrefix,
  checkSubnetRange,
  defaultNetwork,
  innerAddress,
  type MachineNetworkUse,
  machineNetworkUse,
  type NetworkOptions,
  WorkerNetworks,
  workerIndexOf,
  workersPerSubnet,
} from "./network.ts";
