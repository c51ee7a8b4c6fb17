/**
 * `@claude-bottle/core/host`: what a host of backends uses (the CLI, or a tool
 * embedding claude-bottle), and no backend needs: finding and resolving agent
 * files, the plan shown for approval and the approvals kept, and finding,
 * checking and loading backend packages. The contract a backend implements
 * is the package's main entry.
 */
export { CLAUDE_CODE_HOSTS, widenNetworkPolicy } from "./agent/network.js";
export { planOf, type BottlePlan } from "./trust/plan.js";
export { resolveBottleSpec, withAdditions, type BottleSpecInput } from "./spec/resolve-bottle-spec.js";
export { approvalsNeeded, backendApprovalNeeded, digestOf, type ApprovalRequest } from "./trust/approval.js";
export { ApprovalStore, stateDir, type Approval } from "./trust/store.js";
export {
  assertSlug,
  builtinCredentialNames,
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
export { assertLaunched, assertPreparedFor, checkedBackend } from "./plugin/checked-backend.js";
export {
  BACKEND_PACKAGE_PREFIXES,
  backendShortName,
  candidateSpecifiers,
  DEFAULT_BACKEND,
  findInstalledBackends,
  locateBackend,
  selectedBackendName,
  type BuiltinBackends,
  type LoadBackendOptions,
  type LocatedBackend,
} from "./plugin/locate-backend.js";
export { requireCapability, validateBackend } from "./plugin/validate-backend.js";
export { importBackend, loadBackend, type ImportBackendOptions, type LoadedBackend } from "./plugin/load-backend.js";
export { resolvePackageEntry } from "./plugin/resolve-package.js";
export { backendCopiesDir, importApprovedBackend, pruneBackendCopies, type BackendSnapshot } from "./plugin/backend-copy.js";
