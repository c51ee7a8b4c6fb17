// The backend: the default export is the factory the CLI loads.
export { createDockerBackend, createDockerBackend as default, type DockerBackendOptions, type DockerPrepared } from "./backend.js";

export { DockerErrorCodes, type DockerErrorCode } from "./errors.js";

// Finding the engine.
export { connectDocker, engineOf, type ConnectOptions, type DockerConnection, type DockerEngine } from "./connect/connect.js";
export { EngineApi, EngineError, type EngineAddress, type Query, type RequestInit } from "./engine/api.js";
export { demultiplex, demultiplexBuffer } from "./engine/demux.js";
export { dockerCandidates, fromDockerHost, type ConnectEnvironment, type DockerCandidate } from "./connect/strategies.js";
export { isDockerDesktop } from "./connect/desktop.js";

// Images: the helpers other backends build on.
export { buildImage, type BuildImageOptions, type BuildNetworkMode, type BuildReporter } from "./image/build.js";
export { hashBuildContext, readBuildContext, type BuildContext } from "./image/context.js";
export { imageId, inspectImage, removeTag, splitRepoTag, tagImage } from "./image/refs.js";
export { pullImage } from "./image/pull.js";
export { pushImage } from "./image/push.js";
export { registryOf } from "./image/registry-errors.js";
export { agentRepository, ensureAgentImage, planAgentImage, CONTEXT_HASH_LABEL, type AgentImage, type ImagePlan } from "./image/agent-image.js";

// How a bottle is made, for tools that inspect or reproduce one.
export { containerCreateOptions, type ContainerPlan, type HostUser } from "./container/create-options.js";
export { BACKEND_NAME, bottleLabels } from "./container/labels.js";
export { HOME_DIR, homeVolumeName } from "./container/home-volume.js";
