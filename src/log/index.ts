export { outputLost, tolerateLostOutput } from "./output.ts";
export {
  defaultLogger,
  jsonLogger,
  type Logger,
  type LogLevel,
  silentLogger,
  textLogger,
  withFields,
} from "./pino-logger.ts";
