import { z } from "zod";

/**
 * The agent file as users write it (`.claude-bottle/agents/<slug>.yaml`).
 * Kept small on purpose: a field is added only when a feature needs it, and
 * unknown fields are rejected so a typo never silently does nothing.
 */

export const SLUG_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
export const ENV_ENTRY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*(=.*)?$/s;
export const MEMORY_PATTERN = /^[0-9]+(\.[0-9]+)?[bkmg]?$/i;

const nonEmpty = z.string().min(1, "must not be empty");

export const AgentFileSchema = z
  .strictObject({
    description: z.string().optional().describe("One line shown by `claude-bottle agents`."),
    build: z
      .strictObject({
        dockerfile: nonEmpty.default("Dockerfile").describe("Relative to the agent file's directory."),
        context: nonEmpty.default(".").describe("Build context, relative to the agent file's directory."),
        args: z.record(z.string(), z.string()).optional().describe("Build arguments."),
      })
      .optional()
      .describe("Build the image from a Dockerfile. Either build or image, not both."),
    image: nonEmpty.optional().describe("A ready image reference. Either build or image, not both."),
    command: z.array(z.string()).min(1).optional().describe("Replaces the image's command."),
    args: z.array(z.string()).optional().describe("Appended to the command."),
    workspace: nonEmpty
      .optional()
      .describe("Host directory mounted at /workspace, relative to where start runs. Default: that directory."),
    mounts: z
      .array(
        z.strictObject({
          source: nonEmpty.describe("Host path; ~ is the home directory, relative paths start where start runs."),
          target: z.string().startsWith("/", "must be an absolute path").describe("Path inside the bottle."),
          readOnly: z.boolean().optional(),
        }),
      )
      .optional(),
    env: z
      .array(
        z
          .string()
          .regex(ENV_ENTRY_PATTERN, "must be NAME (passed through from the host) or NAME=value"),
      )
      .optional()
      .describe("NAME passes the host's value through without storing it; NAME=value is a literal."),
    network: z.boolean().optional().describe("false: no network at all. Default true."),
    resources: z
      .strictObject({
        cpus: z.number().positive().optional(),
        memory: z
          .union([z.number().int().positive(), z.string().regex(MEMORY_PATTERN, "must be a size such as 512m or 4g")])
          .optional()
          .describe("Bytes, or a size with a unit: 512m, 4g."),
      })
      .optional(),
  })
  .describe("A claude-bottle agent: a named recipe for a bottle.");

export type AgentFile = z.infer<typeof AgentFileSchema>;

/** Bytes from `4g`, `512m`, `1024k`, `100b` or a plain number of bytes. */
export function parseMemory(value: number | string): number {
  if (typeof value === "number") return value;
  const match = /^([0-9]+(?:\.[0-9]+)?)([bkmg]?)$/i.exec(value.trim());
  if (!match) throw new Error(`not a size: ${value}`);
  const units: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
  return Math.round(Number(match[1]) * (units[match[2]!.toLowerCase()] ?? 1));
}

/** The JSON Schema editors use to complete and check agent files (published as agent.schema.json). */
export function agentJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(AgentFileSchema, { io: "input" }),
    $id: "https://unpkg.com/@claude-bottle/core/agent.schema.json",
    title: "claude-bottle agent",
  };
}
