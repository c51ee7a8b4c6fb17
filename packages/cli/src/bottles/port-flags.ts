import { BottleError, ErrorCodes, hostServicesOf, publishedPortsOf, type ResolvedAgent } from "@claude-bottle/core";

/**
 * `start --publish` and `--host-service` for this run, on top of the agent's
 * `ports:` and `network.host`; the plan shows the result. A flag is the
 * user's own word, so a host service from it is allowed whoever wrote the
 * agent file. A host service for an agent without network gives it a network
 * that reaches nothing but the services named.
 */
export function withPortFlags(agent: ResolvedAgent, publish: readonly string[], hostServices: readonly string[]): ResolvedAgent {
  if (!publish.length && !hostServices.length) return agent;
  const invalid = (flag: string, entries: readonly string[], example: string) => (index: number, problem: string): never => {
    throw new BottleError(ErrorCodes.INVALID_ARGUMENT, `${flag} ${entries[index]}: ${problem}.`, { hint: `For example: ${example}` });
  };
  const fromFile = (agent.ports ?? []).map((p) => `${p.host}:${p.bottle}`);
  // The flags' ports after the file's, checked together: a flag may not take a host port the file already gives out.
  const ports = publishedPortsOf([...fromFile, ...publish], (index, problem) => invalid("--publish", [...fromFile, ...publish], "--publish 3000 --publish 8080:80")(index, problem));
  const services = hostServicesOf([...(agent.hostServices ?? []), ...hostServices], (index, problem) =>
    invalid("--host-service", [...(agent.hostServices ?? []).map(String), ...hostServices], "--host-service 5432 --host-service localhost:8931")(index, problem),
  );
  const network = agent.network || !services.length ? {} : { network: true, egress: { mode: "allow" as const, allow: [], deny: [], allowPrivate: [] } };
  return { ...agent, ...network, ...(ports.length && { ports }), ...(services.length && { hostServices: services }) };
}
