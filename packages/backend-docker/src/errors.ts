/**
 * The docker backend's own error codes (the shared ones are core's
 * `ErrorCodes`). The strings are the ones core listed before 0.2, so code
 * that matches on them keeps working.
 */
export const DockerErrorCodes = {
  /** No Docker engine answered where it was looked for. */
  DOCKER_UNAVAILABLE: "DOCKER_UNAVAILABLE",
  /** An engine is there but this user may not use its socket. */
  DOCKER_PERMISSION_DENIED: "DOCKER_PERMISSION_DENIED",
  /** The engine refused to create the bottle's container. */
  DOCKER_CREATE_FAILED: "DOCKER_CREATE_FAILED",
  /** The container was created but could not start. */
  DOCKER_START_FAILED: "DOCKER_START_FAILED",
} as const;

export type DockerErrorCode = (typeof DockerErrorCodes)[keyof typeof DockerErrorCodes];

/** The status code on an engine's HTTP error, from EngineApi or dockerode (both put it there). */
export function statusCodeOf(error: unknown): number | undefined {
  const code = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === "number" ? code : undefined;
}

/** The engine's own message, without the "(HTTP code 404) no such image - " prefix the clients add. */
export function engineMessage(error: unknown): string {
  const json = (error as { json?: { message?: unknown } } | null)?.json;
  if (json && typeof json.message === "string") return json.message.trim();
  return error instanceof Error ? error.message : String(error);
}
