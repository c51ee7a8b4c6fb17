import { BottleError, ErrorCodes, type ResolvedAgent } from "@claude-bottle/core";

/**
 * Published ports and host services go through the bottle's own network (its
 * forwarders and its egress proxy are on it): a bottle without network has
 * only its loopback, so asking for either is refused rather than ignored.
 */
export function assertNetworkForPorts(agent: ResolvedAgent): void {
  if (agent.network) return;
  const asked = [...(agent.ports?.length ? ["ports"] : []), ...(agent.hostServices?.length ? ["network.host"] : [])];
  if (!asked.length) return;
  throw new BottleError(ErrorCodes.AGENT_INVALID, `${agent.file ?? `The agent "${agent.slug}"`}: ${asked.join(" and ")} ${asked.length > 1 ? "need" : "needs"} the bottle's network, and this agent has none (network: false).`, {
    hint: "Give it a network that reaches nothing else: network: { allow: [] }.",
  });
}
