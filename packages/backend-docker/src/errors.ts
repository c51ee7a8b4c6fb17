import { EngineErrorCodes } from "@claude-bottle/docker-engine";

/**
 * The docker backend's own error codes (the shared ones are core's
 * `ErrorCodes`), with those of finding the engine. The strings are the ones
 * core listed before 0.2, so code that matches on them keeps working.
 */
export const DockerErrorCodes = {
  ...EngineErrorCodes,
  /** The engine refused to create the bottle's container. */
  DOCKER_CREATE_FAILED: "DOCKER_CREATE_FAILED",
  /** The container was created but could not start. */
  DOCKER_START_FAILED: "DOCKER_START_FAILED",
  /** The bottle's egress proxy could not be started. */
  DOCKER_EGRESS_FAILED: "DOCKER_EGRESS_FAILED",
  /** The bottle asks for an isolation whose runtime (gVisor's runsc) the engine does not have. */
  DOCKER_RUNTIME_MISSING: "DOCKER_RUNTIME_MISSING",
} as const;

export type DockerErrorCode = (typeof DockerErrorCodes)[keyof typeof DockerErrorCodes];
