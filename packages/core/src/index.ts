export * from "./errors.js";
export * from "./backend.js";
export * from "./context.js";
export * from "./labels.js";
export * from "./agent/model.js";
export { agentJsonSchema, agentSchema, parseMemory, SLUG_PATTERN, type AgentFile, type SchemaNode } from "./agent/schema.js";
export {
  assertSlug,
  findProjectAgentsDir,
  listAgents,
  resolveAgent,
  userAgentsDir,
  validateRecipe,
  type AgentListing,
  type AgentSearchOptions,
  type BuiltinAgent,
} from "./agent/load.js";
export {
  candidateSpecifiers,
  DEFAULT_BACKEND,
  loadBackend,
  requireCapability,
  selectedBackendName,
  validateBackend,
  type BuiltinBackends,
  type LoadBackendOptions,
  type LoadedBackend,
} from "./plugin/load-backend.js";
export { resolvePackageEntry } from "./plugin/resolve-package.js";
