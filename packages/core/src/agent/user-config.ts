import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import { BottleError, ErrorCodes } from "../errors.js";
import { ISOLATION_PATTERN, type Isolation } from "./isolation.js";
import type { SchemaNode } from "./schema.js";
import { firstViolation } from "./validate.js";

/**
 * The user's own settings for every bottle, `$XDG_CONFIG_HOME/claude-bottle/config.yaml`:
 * trusted like the user's agent files (SECURITY.md "Who is trusted"), and
 * read only from there, never from a project.
 */
export interface UserConfig {
  /** The least isolation any bottle gets from a project's agent file, and the default of every other. */
  isolation?: Isolation;
}

export const userConfigSchema = {
  type: "object",
  description: "claude-bottle's user-wide settings.",
  additionalProperties: false,
  properties: {
    isolation: {
      type: "string",
      pattern: ISOLATION_PATTERN,
      description: "gvisor or runc: every bottle's default; a project's agent file may ask for more, never less.",
      "x-expected": "must be gvisor or runc",
    },
  },
} as const satisfies SchemaNode;

export function userConfigFile(env: Readonly<Record<string, string | undefined>>, home = homedir()): string {
  const configHome = env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(home, ".config");
  return join(configHome, "claude-bottle", "config.yaml");
}

/** The user's config; none written is an empty one. A file that does not validate stops here, naming the field. */
export async function readUserConfig(env: Readonly<Record<string, string | undefined>>, home?: string): Promise<UserConfig> {
  const file = userConfigFile(env, home);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw error;
  }
  const yaml = await import("js-yaml");
  let data: unknown;
  try {
    data = yaml.load(text) ?? {};
  } catch (error) {
    throw new BottleError(ErrorCodes.AGENT_INVALID, `${file}: not valid YAML: ${String((error as Error).message)}`, { cause: error });
  }
  const violation = firstViolation(data, userConfigSchema);
  if (violation) {
    const field = violation.path.map(String).join(".");
    throw new BottleError(ErrorCodes.AGENT_INVALID, `${file}: ${field ? `field "${field}": ` : ""}${violation.message}`, {
      hint: "The user config knows one field: isolation (gvisor or runc).",
    });
  }
  return data as UserConfig;
}
