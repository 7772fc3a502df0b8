// What ate's SQLite stores (records, resources) share.
export { StatementCache } from "./statement-cache.ts";
