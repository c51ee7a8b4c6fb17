export { main } from "./main.js";
export { ExitCodes } from "./exit-codes.js";
export { builtinAgents } from "./builtin-agents.js";
export { builtinBackends } from "./builtin-backends.js";
