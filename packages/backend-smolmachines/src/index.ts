import { createSmolmachinesBackend } from "./backend.js";

export default createSmolmachinesBackend;
export { SmolmachinesErrorCodes, type SmolmachinesErrorCode } from "./errors.js";
export { createSmolmachinesBackend, type SmolmachinesOptions } from "./backend.js";
export { prepareSmolmachine, type PrepareDependencies, type SmolmachinesPrepared } from "./pipeline/prepare.js";
export { packArguments, packEnvironment, REGISTRY_REPOSITORY } from "./pipeline/pack.js";
export {
  BACKEND_NAME,
  PASSTHROUGH_LABEL,
  bottleCommand,
  launchSmolmachine,
  machineCreateArguments,
  machineRunArguments,
  resourceArguments,
} from "./launch.js";
export { ArtifactCache, artifactCacheDir, cacheKeyOf, type Artifact } from "./pipeline/artifact-cache.js";
export { DOCKER_DESKTOP_HOST_RANGE, desktopInsecureRegistryError } from "./registry/desktop-insecure-registry.js";
export { guestEnvironment, type GuestEnvironment } from "./environment.js";
export { bottleLogPaths } from "./bottle-logs.js";
export { SMOLVM_ENV, smolvmInstallHint } from "./smolvm/install-hint.js";
export { findSmolvmExecutable, locateSmolvm, type LocateSmolvmOptions, type Smolvm } from "./smolvm/locate.js";
export { MINIMUM_SMOLVM_VERSION, compareVersions, parseSmolvmVersion, readSmolvmVersion, type SmolvmVersion } from "./smolvm/version.js";
export { DEFAULT_KVM_DEVICE, checkKvm } from "./smolvm/kvm.js";
export {
  SMOLVM_FEATURES,
  featuresOf,
  forgetSmolvmFeatures,
  probeSmolvmFeatures,
  requireSmolvmFeature,
  smolvmFeatureError,
  type SmolvmFeature,
  type SmolvmFeatureInfo,
  type SmolvmFeatures,
} from "./smolvm/features.js";
export { MACHINE_STATES, bottleStateOf, createdAtIso, type MachineRecord } from "./smolvm/lifecycle.js";
export { runSmolvm, smolvmCommandLine, smolvmErrorLines, smolvmFailure, type RunSmolvmOptions } from "./smolvm/run.js";
export * from "./registry/local-registry.js";
