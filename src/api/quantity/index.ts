export { formatCpu, formatMemory, parseCpu, parseMemory } from "./quantity.ts";
