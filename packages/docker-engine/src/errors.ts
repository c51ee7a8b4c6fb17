/**
 * The error codes of finding and talking to a Docker engine (the shared ones
 * are core's `ErrorCodes`). The strings are the ones core listed before 0.2,
 * so code that matches on them keeps working.
 */
export const EngineErrorCodes = {
  /** No Docker engine answered where it was looked for. */
  DOCKER_UNAVAILABLE: "DOCKER_UNAVAILABLE",
  /** An engine is there but this user may not use its socket. */
  DOCKER_PERMISSION_DENIED: "DOCKER_PERMISSION_DENIED",
} as const;

export type EngineErrorCode = (typeof EngineErrorCodes)[keyof typeof EngineErrorCodes];

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
