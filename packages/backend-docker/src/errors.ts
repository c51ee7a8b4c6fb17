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
