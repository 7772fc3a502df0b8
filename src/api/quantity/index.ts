export { formatCpu, formatMemory, parseCpu, parseMemory, shown } from "./quantity.ts";
