export { GvisorDriver, type GvisorDriverOptions } from "./gvisor-driver.ts";
export { innerAddress, type NetworkOptions, WorkerNetworks } from "./network.ts";
