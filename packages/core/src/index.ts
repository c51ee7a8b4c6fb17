export * from "./errors.js";
export * from "./backend.js";
export { BOTTLE_SPEC_VERSION, NO_ADDITIONS, type BottleAdditions, type BottleSpec, type EffectiveResources } from "./spec/bottle-spec.js";
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
export { guardDirectories, recoverGuardedDirectories, type GuardedDirectory, type RecoveredDirectory } from "./agent/directory-guard.js";
export { networkPolicyOf, type NetworkPolicy } from "./agent/network.js";
export * from "./egress-policy/index.js";
export { parsePublishedPort, publishedPortsOf, publishedUrl, PUBLISH_PATTERN, type PublishedPort } from "./agent/ports.js";
export { HOST_SERVICES_NAME, hostServicesOf, parseHostService } from "./agent/host-services.js";
export { DEFAULT_PIDS_LIMIT, defaultMemoryLimit, effectiveResources } from "./agent/resources.js";
export { buildNetworkOf, type BuildNetwork } from "./agent/build-network.js";
export { ISOLATIONS, isIsolation, parseIsolationFlag, resolveIsolation, strongerIsolation, type Isolation } from "./agent/isolation.js";
export { readUserConfig, userConfigFile, type UserConfig } from "./agent/user-config.js";
export { assertAgentPaths, type AgentPathOptions } from "./support/paths.js";
export { bottleEnvironment, passthroughNames } from "./support/environment.js";
export { exitCodeOf, isProcessAlive } from "./support/process.js";
export { cachedUntilFailure } from "./support/cached-until-failure.js";
export { writeFileAtomically } from "./support/atomic-write.js";
export { isProcessTerminal, pipeStdio } from "./support/stdio.js";
export {
  createExclusive,
  createFresh,
  directoryIdentity,
  moveAside,
  openForAppend,
  readRegularFile,
  replaceFile,
  sameDirectory,
  throughRealDirectories,
  type DirectoryIdentity,
  type FoundFile,
} from "./support/no-follow.js";
