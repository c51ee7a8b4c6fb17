import { Labels } from "@claude-bottle/core";
import type { EngineApi } from "@claude-bottle/docker-engine";
import { EGRESS_FOR_LABEL } from "../egress/labels.js";

/** The engine's summary of a container, as `GET /containers/json` lists it. */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  Labels: Record<string, string>;
  State: string;
  /** The engine's sentence, e.g. "Exited (137) 5 seconds ago". */
  Status: string;
  /** Seconds since the epoch. */
  Created: number;
  HostConfig?: { NetworkMode?: string };
}

/** The engine's summary of a network, as `GET /networks` lists it. */
export interface NetworkSummary {
  Name: string;
  Labels?: Record<string, string>;
  /** An RFC 3339 date. */
  Created: string;
}

/**
 * What `ls` shows and what its reapers judge, in one round: every container
 * of this tool (bottles of any backend, proxies, anchors) and the egress
 * networks, two requests sent together. `ls` used to ask five times in two
 * rounds (the unstarted bottles, then the bottles, the proxies, the tool's
 * containers and the networks), each answer a filtered copy of these two.
 */
export interface EngineSurvey {
  containers: ContainerSummary[];
  networks: NetworkSummary[];
}

export async function surveyEngine(api: EngineApi): Promise<EngineSurvey> {
  const [containers, networks] = await Promise.all([
    api.json<ContainerSummary[]>("GET", "/containers/json", { query: { all: true, filters: JSON.stringify({ label: [Labels.tool] }) } }),
    api.json<NetworkSummary[]>("GET", "/networks", { query: { filters: JSON.stringify({ label: [EGRESS_FOR_LABEL] }) } }),
  ]);
  return { containers, networks };
}

export const nameOf = (c: Pick<ContainerSummary, "Id" | "Names">): string => (c.Names[0] ?? c.Id).replace(/^\//, "");
