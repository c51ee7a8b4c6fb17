import type { ResolvedAgent } from "./model.js";

/**
 * Where the steps of an agent's image build (RUN, ADD <url>) may connect: a
 * Dockerfile is as much the agent file's input as its command, so it gets the
 * bottle's rules.
 * - "off": the agent has no network; neither has its build.
 * - "policy": through the bottle's egress proxy, under the agent's policy (never
 *   private addresses, cloud metadata or the host, whatever the policy says).
 * - "engine": the engine's own network, for the built-in agent only: its
 *   Dockerfile is claude-bottle's (pinned base, pinned version), not a project's,
 *   and it installs system packages from hosts no agent policy lists.
 */
export type BuildNetwork = "off" | "policy" | "engine";

export function buildNetworkOf(agent: Pick<ResolvedAgent, "origin" | "network">): BuildNetwork {
  if (agent.origin === "builtin") return "engine";
  return agent.network ? "policy" : "off";
}
