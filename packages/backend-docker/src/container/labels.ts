import { bottleLabels as coreBottleLabels, type ResolvedAgent } from "@claude-bottle/core";

/** The value of the backend label on everything this backend creates. */
export const BACKEND_NAME = "docker";

/** The labels that identify a bottle (core's, with this backend's name). Values are slugs and paths, never environment values. */
export function bottleLabels(agent: Pick<ResolvedAgent, "slug" | "workspace">): Record<string, string> {
  return coreBottleLabels(BACKEND_NAME, agent);
}
