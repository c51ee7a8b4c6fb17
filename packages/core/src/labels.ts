import type { ResolvedAgent } from "./agent/model.js";

/**
 * Labels every backend puts on what it creates, so `ls` finds exactly the
 * bottles of claude-bottle and a crashed run's leftovers can be reaped.
 * Values are slugs, paths and names: never environment values.
 */
export const Labels = {
  tool: "dev.claude-bottle",
  agent: "dev.claude-bottle.agent",
  workspace: "dev.claude-bottle.workspace",
  backend: "dev.claude-bottle.backend",
} as const;

/** The labels that identify a bottle of `backend` made for `agent`. */
export function bottleLabels(backend: string, agent: Pick<ResolvedAgent, "slug" | "workspace">): Record<string, string> {
  return {
    [Labels.tool]: "true",
    [Labels.agent]: agent.slug,
    [Labels.workspace]: agent.workspace,
    [Labels.backend]: backend,
  };
}

/** `claude-bottle-<slug>-<6 hex>`: readable in `docker ps`, unique enough per host. */
export function bottleName(slug: string, randomHex: string): string {
  return `claude-bottle-${slug}-${randomHex.slice(0, 6)}`;
}
