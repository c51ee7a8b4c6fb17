export { connectDocker, type ConnectOptions, type DockerConnection } from "./connect/connect.js";
export { dockerCandidates, fromDockerHost, type ConnectEnvironment, type DockerCandidate } from "./connect/strategies.js";
export { isDockerDesktop } from "./connect/desktop.js";
export { buildImage, type BuildImageOptions, type BuildReporter } from "./image/build.js";
export { hashBuildContext, readBuildContext, type BuildContext } from "./image/context.js";
export { imageId, inspectImage, removeTag, splitRepoTag, tagImage } from "./image/refs.js";
export { pullImage } from "./image/pull.js";
export { pushImage } from "./image/push.js";
export { registryOf } from "./image/registry-errors.js";
