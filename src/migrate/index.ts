export { parseSnapshotsTarget } from "./locations.ts";
export { type MigrateOptions, type MigrateResult, migrate } from "./migrate.ts";
