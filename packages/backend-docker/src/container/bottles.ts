import { Labels, bottleNotFoundError, type BottleInfo, type BottleState } from "@claude-bottle/core";
import type { EngineApi } from "@claude-bottle/docker-engine";
import { EGRESS_FOR_LABEL } from "../egress/labels.js";
import { BACKEND_NAME } from "./labels.js";

/** Label filters that select this backend's bottles and nothing else on the engine. */
const OWN_BOTTLES = [Labels.tool, `${Labels.backend}=${BACKEND_NAME}`];

/** The engine's summary of a container, as `GET /containers/json` lists it. */
interface ContainerSummary {
  Id: string;
  Names: string[];
  Labels: Record<string, string>;
  State: string;
  Created: number;
}

/** This backend's containers that are bottles: a bottle's egress proxy carries the same labels, and more. */
async function listContainers(api: EngineApi, filters: Record<string, string[]>): Promise<ContainerSummary[]> {
  const containers = await api.json<ContainerSummary[]>("GET", "/containers/json", { query: { all: true, filters: JSON.stringify(filters) } });
  return containers.filter((c) => c.Labels[EGRESS_FOR_LABEL] === undefined);
}

/** Every bottle of this backend, running or not. */
export async function listBottles(api: EngineApi): Promise<BottleInfo[]> {
  const containers = await listContainers(api, { label: OWN_BOTTLES });
  return containers.map((c) => ({
    name: (c.Names[0] ?? c.Id).replace(/^\//, ""),
    agent: c.Labels[Labels.agent] ?? "",
    backend: c.Labels[Labels.backend] ?? BACKEND_NAME,
    state: bottleState(c.State),
    workspace: c.Labels[Labels.workspace] ?? "",
    created: new Date(c.Created * 1000).toISOString(),
  }));
}

function bottleState(state: string): BottleState {
  switch (state) {
    case "created":
      return "created";
    case "running":
    case "restarting":
      return "running";
    case "paused":
      return "paused";
    case "exited":
      return "stopped";
    case "dead":
      return "failed";
    default:
      return "unknown";
  }
}

/** The container ID of the bottle called `name`; a container of another tool or backend does not count. */
export async function findBottle(api: EngineApi, name: string): Promise<string> {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const [match] = await listContainers(api, { name: [`^/${escaped}$`], label: OWN_BOTTLES });
  if (!match) throw bottleNotFoundError(BACKEND_NAME, name);
  return match.Id;
}
