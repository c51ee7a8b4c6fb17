// The backend: the default export is the factory the CLI loads.
export { createDockerBackend, createDockerBackend as default, type DockerBackendOptions, type DockerPrepared } from "./backend.js";

export { DockerErrorCodes, type DockerErrorCode } from "./errors.js";

// How a bottle is made, for tools that inspect or reproduce one.
export { containerCreateOptions, type ContainerPlan, type HostUser } from "./container/create-options.js";
export { BACKEND_NAME, bottleLabels } from "./container/labels.js";
export { HOME_DIR, homeVolumeName } from "./container/home-volume.js";
