export * from "./errors.js";
export * from "./backend.js";
export {
  assertEnforced,
  describeUnkeptDefaults,
  ENFORCEMENTS,
  requirementsOf,
  unkeptRequirements,
  type Enforcement,
  type EnforcingBackend,
  type Requirement,
} from "./enforcement.js";
export * from "./context.js";
export * from "./labels.js";
export * from "./agent/model.js";
export { agentJsonSchema, agentSchema, parseMemory, SLUG_PATTERN, type AgentFile, type SchemaNode } from "./agent/schema.js";
export { assertHardLimits, credentialPaths, engineSocketPaths, type HostFacts } from "./agent/hard-limits.js";
export { isInside, realPath } from "./agent/host-paths.js";
export { pinnedDirectories, prepareHostControls, readOnlyOverlays, type HostControl, type PinnedDirectory, type ReadOnlyOverlay } from "./agent/host-controls.js";
export { guardFiles, restoreGuardedFiles, type GuardedFile, type RestoredFile } from "./agent/file-guard.js";
export { CLAUDE_CODE_HOSTS, HOST_ENTRY_PATTERN, networkPolicyOf, widenNetworkPolicy, type NetworkPolicy } from "./agent/network.js";
export { DEFAULT_PIDS_LIMIT, defaultMemoryLimit, effectiveResources } from "./agent/resources.js";
export { planOf, type BottlePlan } from "./trust/plan.js";
export { buildNetworkOf, type BuildNetwork } from "./agent/build-network.js";
export { approvalsNeeded, backendApprovalNeeded, digestOf, type ApprovalRequest } from "./trust/approval.js";
export { ApprovalStore, stateDir, type Approval } from "./trust/store.js";
export {
  assertSlug,
  findProject,
  findProjectAgentsDir,
  listAgents,
  resolveAgent,
  userAgentsDir,
  validateRecipe,
  type AgentListing,
  type AgentSearchOptions,
  type BuiltinAgent,
  type ProjectLocation,
} from "./agent/load.js";
export { assertAgentPaths, type AgentPathOptions } from "./support/paths.js";
export { bottleEnvironment, passthroughNames } from "./support/environment.js";
export { exitCodeOf, isProcessAlive } from "./support/process.js";
export { writeFileAtomically } from "./support/atomic-write.js";
export { isProcessTerminal, pipeStdio } from "./support/stdio.js";
export { BottleStore, type BottleRecord } from "./support/bottle-store.js";
export {
  assertLaunched,
  assertPreparedFor,
  BACKEND_PACKAGE_PREFIXES,
  backendShortName,
  candidateSpecifiers,
  checkedBackend,
  DEFAULT_BACKEND,
  findInstalledBackends,
  importBackend,
  loadBackend,
  locateBackend,
  requireCapability,
  selectedBackendName,
  validateBackend,
  type BuiltinBackends,
  type LoadBackendOptions,
  type LoadedBackend,
  type LocatedBackend,
} from "./plugin/load-backend.js";
export { resolvePackageEntry } from "./plugin/resolve-package.js";
