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
  /** The test run that made it, while `CLAUDE_BOTTLE_TEST_RUN` is set: how a run finds what it left behind. */
  testRun: "dev.claude-bottle.test-run",
} as const;

/** Set by the repository's `scripts/test` to an id of the run; unset in normal use. */
export const TEST_RUN_ENV = "CLAUDE_BOTTLE_TEST_RUN";

/** `{ [Labels.testRun]: id }` while a test run names itself in the environment, else nothing. */
export function testRunLabels(env: Readonly<Record<string, string | undefined>> = process.env): Record<string, string> {
  const run = env[TEST_RUN_ENV]?.trim();
  return run ? { [Labels.testRun]: run } : {};
}

/**
 * The labels of anything claude-bottle creates besides a bottle (an image, a
 * home volume, a proxy, a registry): the tool's mark, the object's own
 * labels, and the test run that made it while one names itself.
 */
export function toolLabels(labels: Readonly<Record<string, string>> = {}): Record<string, string> {
  return { [Labels.tool]: "true", ...labels, ...testRunLabels() };
}

/** The labels that identify a bottle of `backend` made for `agent`. */
export function bottleLabels(backend: string, agent: Pick<ResolvedAgent, "slug" | "workspace">): Record<string, string> {
  return toolLabels({ [Labels.agent]: agent.slug, [Labels.workspace]: agent.workspace, [Labels.backend]: backend });
}

/** `claude-bottle-<slug>-<6 hex>`: readable in `docker ps`, unique enough per host. */
export function bottleName(slug: string, randomHex: string): string {
  return `claude-bottle-${slug}-${randomHex.slice(0, 6)}`;
}
