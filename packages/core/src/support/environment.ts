import type { EnvEntry } from "../agent/model.js";

/**
 * The variables a bottle gets from the agent's `env:` entries: literals as
 * written, passthroughs with their value from `hostEnv` (the context's
 * `env`), and a passthrough the host does not set left out (not set to "").
 * The values are secrets: hand them to the bottle through a process's
 * environment or an API body, never through argv, a label, a log line or a file.
 */
export function bottleEnvironment(
  entries: readonly EnvEntry[],
  hostEnv: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const values: Record<string, string> = {};
  for (const entry of entries) {
    const value = entry.passthrough ? hostEnv[entry.name] : entry.value;
    if (value !== undefined) values[entry.name] = value;
  }
  return values;
}

/** The names of the passthrough entries (never their values): what a later `exec` has to forward again. */
export function passthroughNames(entries: readonly EnvEntry[]): string[] {
  return entries.filter((e) => e.passthrough).map((e) => e.name);
}
