export { compareQuantities, type ExactQuantity, exactQuantity } from "./compare.ts";
export { formatCpu, formatMemory, parseCpu, parseMemory, shown } from "./quantity.ts";
