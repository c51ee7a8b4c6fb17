/**
 * The ephemeral local registry the smolmachines pipeline pushes an image into
 * for `smolvm pack create` (see the seed commits): its settings, running one,
 * reaping what killed runs left, pushing. Also the package's
 * `@claude-bottle/backend-smolmachines/local-registry` entry.
 */
export {
  DEFAULT_REGISTRY_IMAGE,
  REGISTRY_IMAGE_ENV,
  RegistryLabels,
  registryEndpoints,
  registryImage,
  type LocalRegistry,
  type LocalRegistryOptions,
} from "./registry-settings.js";
export { startLocalRegistry } from "./run-registry.js";
export { reapStaleRegistries, registryIsStale, TEMPORARY_REPOSITORY } from "./reap-registries.js";
export { pushToLocalRegistry } from "./push-to-registry.js";
