export { removeAgentTraces } from "./agent-images.js";
export { attempt } from "./attempt.js";
export { busyboxContext, busyboxAgent, BUSYBOX_BINARY } from "./busybox.js";
export { busyboxGitContext, GIT_BINARY } from "./git-image.js";
export { copyHostBinaries } from "./host-binaries.js";
export { buildTestNodeImage, TEST_NODE_IMAGE } from "./node-image.js";
export { buildTestRegistryImage, registryImageContext, REGISTRY_BINARY, TEST_REGISTRY_IMAGE } from "./registry-image.js";
export { scratchForThisRun, TEST_FIXTURE_LABEL, TEST_RUN_LABEL } from "./run-labels.js";
export { startSecondEngine, type SecondEngine } from "./second-engine.js";
