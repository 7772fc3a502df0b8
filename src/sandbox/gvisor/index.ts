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
