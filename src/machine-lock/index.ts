export { type MachineLockOptions, processAlive, withMachineLock } from "./machine-lock.ts";
