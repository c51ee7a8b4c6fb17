export { connectDocker, type ConnectOptions, type DockerConnection } from "./connect/connect.js";
export { dockerCandidates, fromDockerHost, type ConnectEnvironment, type DockerCandidate } from "./connect/strategies.js";
export { isDockerDesktop } from "./connect/desktop.js";
export { buildImage, type BuildImageOptions, type BuildReporter } from "./image/build.js";
export { hashBuildContext, readBuildContext, type BuildContext } from "./image/context.js";
export { imageId, inspectImage, removeTag, splitRepoTag, tagImage } from "./image/refs.js";
export { pullImage } from "./image/pull.js";
export { pushImage } from "./image/push.js";
export { registryOf } from "./image/registry-errors.js";
export { createDockerBackend, type DockerBackendOptions, type DockerPrepared } from "./backend.js";
export { containerCreateOptions, bottleLabels, BACKEND_NAME, type ContainerPlan, type HostUser } from "./container/create-options.js";
export { homeVolumeName, HOME_DIR } from "./container/home-volume.js";
export { agentRepository, planAgentImage, ensureAgentImage, CONTEXT_HASH_LABEL, type AgentImage, type ImagePlan } from "./image/agent-image.js";

import { createDockerBackend } from "./backend.js";
export default createDockerBackend;
