import type { ResolvedAgent } from "./agent/model.js";

/**
 * Every `dev.claude-bottle.*` label, in one place so that no two modules give
 * one key two meanings: those every backend puts on what it creates (so `ls`
 * finds exactly the bottles of claude-bottle and a crashed run's leftovers
 * can be reaped), and those a backend's own objects carry. Values are slugs,
 * paths and names: never environment values.
 */
export const Labels = {
  tool: "dev.claude-bottle",
  agent: "dev.claude-bottle.agent",
  workspace: "dev.claude-bottle.workspace",
  backend: "dev.claude-bottle.backend",
  /** The test run that made it, while `CLAUDE_BOTTLE_TEST_RUN` is set: how a run finds what it left behind. */
  testRun: "dev.claude-bottle.test-run",
  /** On what a start (or a pipeline) makes before it hands it over: the process that made it, and its host, so a dead one's leftovers are reaped. */
  ownerPid: "dev.claude-bottle.owner-pid",
  ownerHost: "dev.claude-bottle.owner-host",
  /** On a machine an attached smolmachines start made: the process that started it, and its host. */
  starterPid: "dev.claude-bottle.starter-pid",
  starterHost: "dev.claude-bottle.starter-host",
  /** What a helper container is (the smolmachines pipeline's `local-registry`). */
  role: "dev.claude-bottle.role",
  /** On a bottle's egress proxy and network: the bottle they serve. `ls` never shows them as bottles. */
  egressFor: "dev.claude-bottle.egress-for",
  /** On a published port's forwarder: `HOST:BOTTLE`, for `ls` and `port`. */
  published: "dev.claude-bottle.published",
  /** Which boundary a bottle (and its proxy) runs on (`gvisor`, `runc`): `ls` reads it. */
  isolation: "dev.claude-bottle.isolation",
  /** On a home volume: the user HOME was made for, set when the volume is created. */
  homeOwner: "dev.claude-bottle.home-owner",
  /** On a home volume: the real path of the project whose bottles use it. */
  homeProject: "dev.claude-bottle.home-project",
  /** On a volume holding a workspace carried to a remote engine: the bottle's name. */
  carriedFor: "dev.claude-bottle.carried-for",
  /** On a detached smolmachines bottle: the passthrough names (never values) that `exec` forwards again. */
  envPassthrough: "dev.claude-bottle.env-passthrough",
  /** On an agent's image: the digest of the build inputs it was built from. */
  contextHash: "dev.claude-bottle.context-hash",
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
