import { isPort } from "./ports.js";

/**
 * The name a bottle reaches the user's own machine by, for the ports its
 * `network.host` names and no other (SECURITY.md points 3 and 9): a name of
 * no real domain, which only the bottle's hosts file knows.
 */
export const HOST_SERVICES_NAME = "host.claude-bottle.internal";

/** `5432` or `"localhost:5432"`, as `network.host` and `--host-service` take it: a port of the host's loopback. */
export const HOST_SERVICE_PATTERN = "^(?:localhost:)?[0-9]{1,5}$";

/** The loopback port an entry of `network.host` or `--host-service` names, or undefined when it names none. */
export function parseHostService(entry: number | string): number | undefined {
  const text = String(entry);
  if (!new RegExp(HOST_SERVICE_PATTERN).test(text)) return undefined;
  const port = Number(text.replace(/^localhost:/, ""));
  return isPort(port) ? port : undefined;
}

/** Every entry of `network.host` or `--host-service` as a port, each once; `fail` says which entry names none. */
export function hostServicesOf(entries: readonly (number | string)[], fail: (index: number, problem: string) => never): number[] {
  const ports = entries.map((entry, index) => parseHostService(entry) ?? fail(index, `${JSON.stringify(entry)} is not a port of your loopback (1 to 65535, or "localhost:PORT")`));
  return [...new Set(ports)];
}
