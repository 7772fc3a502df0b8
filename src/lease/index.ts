export { type LeaseClock, monotonicClock } from "./clock.ts";
export { type Leadership, Lease, type LeaseOptions, type LeaseRecord } from "./lease.ts";
