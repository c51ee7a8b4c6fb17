// A Docker engine as claude-bottle's backends use it: found, talked to, and its images built, pulled, pushed and inspected.
export { EngineErrorCodes, engineMessage, statusCodeOf, type EngineErrorCode } from "./errors.js";

// Finding the engine.
export { connectDocker, engineOf, type ConnectOptions, type DockerConnection, type DockerEngine } from "./connect/connect.js";
export { EngineApi, EngineError, readText, type EngineAddress, type Query, type RequestInit } from "./engine/api.js";
export { demultiplex, demultiplexBuffer } from "./engine/demux.js";
export { engineRuntimes, runtimeByBinary, type EngineRuntime } from "./engine/runtimes.js";
export { dockerCandidates, fromDockerHost, type ConnectEnvironment, type DockerCandidate } from "./connect/strategies.js";
export { isDockerDesktop } from "./connect/desktop.js";
export { engineIsRemote, ENGINE_LOCALITY_VARIABLE } from "./connect/locality.js";

// Images.
export { buildImage, type BuildImageOptions, type BuildNetworkMode, type BuildReporter } from "./image/build.js";
export { hashBuildContext, readBuildContext, type BuildContext } from "./image/context.js";
export { imageId, inspectImage, removeTag, splitRepoTag, tagImage } from "./image/refs.js";
export { pullImage } from "./image/pull.js";
export { pushImage } from "./image/push.js";
export { classifyRegistryFailure, registryOf, registryRefused } from "./image/registry-errors.js";
export { layerProgress } from "./image/layer-progress.js";
export { agentRepository, ensureAgentImage, planAgentImage, CONTEXT_HASH_LABEL, type AgentImage, type ImagePlan } from "./image/agent-image.js";
