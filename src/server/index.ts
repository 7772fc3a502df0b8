export { type ApiServerOptions, type RunningApiServer, startApiServer } from "./api-server.ts";
