import { BottleError, ErrorCodes, HOST_SERVICES_NAME, type ResolvedAgent } from "@claude-bottle/core";
import { PROXY_PORT } from "../egress/sidecar.js";

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

/** The proxy's own port at the host services address is the proxy's: a host service there could never be reached. */
export function assertHostServicePorts(agent: ResolvedAgent): void {
  if (!agent.hostServices?.includes(PROXY_PORT)) return;
  throw new BottleError(ErrorCodes.AGENT_INVALID, `${agent.file ?? `The agent "${agent.slug}"`}: network.host: ${PROXY_PORT} is the port of the bottle's egress proxy at ${HOST_SERVICES_NAME}; a service of your machine cannot be reached there.`, {
    hint: `Run the service on another port of your loopback, and name that one.`,
  });
}
