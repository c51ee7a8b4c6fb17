import { bottleEnvironment, passthroughNames, type EnvEntry } from "@claude-bottle/core";

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
  const values = bottleEnvironment(
    entries.filter((e) => e.passthrough),
    hostEnv,
  );
  const args = entries.flatMap((entry) => {
    if (!entry.passthrough) return ["-e", `${entry.name}=${entry.value}`];
    return Object.hasOwn(values, entry.name) ? ["-e", entry.name] : [];
  });
  return { args, values };
}
