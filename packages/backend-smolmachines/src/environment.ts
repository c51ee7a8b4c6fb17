import { passthroughNames, type EnvEntry } from "@claude-bottle/core";

export { passthroughNames };

/** The `-e` arguments for smolvm and the values that must reach it through its own environment. */
export interface GuestEnvironment {
  args: string[];
  /** Passthrough values: smolvm copies `-e NAME` from its environment, so no value is ever in its argv. */
  values: Record<string, string>;
}

/**
 * Literal entries become `-e NAME=value` (they are written in the recipe
 * already); a passthrough becomes a bare `-e NAME`, its value handed to smolvm
 * in its environment, and is left out when the host does not set it.
 */
export function guestEnvironment(entries: readonly EnvEntry[], hostEnv: Readonly<Record<string, string | undefined>>): GuestEnvironment {
  const args: string[] = [];
  const values: Record<string, string> = {};
  for (const entry of entries) {
    if (!entry.passthrough) {
      args.push("-e", `${entry.name}=${entry.value}`);
      continue;
    }
    const value = hostEnv[entry.name];
    if (value === undefined) continue;
    args.push("-e", entry.name);
    values[entry.name] = value;
  }
  return { args, values };
}
