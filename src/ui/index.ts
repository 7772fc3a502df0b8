export { type BoardActor, type BoardTransition, boardLimits } from "./board.ts";
export { handleUiEvents, uiEventDefaults, uiEventsPath } from "./events-route.ts";
export { isUiStaticPath, serveUiStatic } from "./static-files.ts";
