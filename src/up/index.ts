export { type RunningSubstrate, type SubstrateOptions, startSubstrate } from "./substrate.ts";
