import { Labels, type ResolvedAgent } from "@claude-bottle/core";

/** The value of the backend label on everything this backend creates. */
export const BACKEND_NAME = "docker";

/** The labels that identify a bottle. Values are slugs and paths, never environment values. */
export function bottleLabels(agent: Pick<ResolvedAgent, "slug" | "workspace">): Record<string, string> {
  return {
    [Labels.tool]: "true",
    [Labels.agent]: agent.slug,
    [Labels.workspace]: agent.workspace,
    [Labels.backend]: BACKEND_NAME,
  };
}
