export { type LabelSelector, matchesSelector, parseSelector } from "./selector.ts";
