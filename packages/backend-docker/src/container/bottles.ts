import { Labels, bottleNotFoundError, type BottleInfo, type BottleState } from "@claude-bottle/core";
import type { EngineApi } from "@claude-bottle/docker-engine";
import { EGRESS_FOR_LABEL } from "../egress/labels.js";
import { egressNames } from "../egress/sidecar.js";
import { portsByBottle } from "../ports/publish.js";
import { BACKEND_NAME } from "./labels.js";
import { ISOLATION_LABEL } from "./isolation.js";
import { nameOf, type ContainerSummary } from "./survey.js";

/** Label filters that select this backend's bottles and nothing else on the engine. */
const OWN_BOTTLES = [Labels.tool, `${Labels.backend}=${BACKEND_NAME}`];

/** This backend's containers, bottles and proxies apart: a bottle's egress proxy carries the same labels, and more. */
async function listContainers(api: EngineApi, filters: Record<string, string[]>): Promise<{ bottles: ContainerSummary[]; proxies: ContainerSummary[] }> {
  return ownContainers(await api.json<ContainerSummary[]>("GET", "/containers/json", { query: { all: true, filters: JSON.stringify(filters) } }));
}

/** Of the containers given, this backend's, bottles and proxies apart. */
function ownContainers(containers: readonly ContainerSummary[]): { bottles: ContainerSummary[]; proxies: ContainerSummary[] } {
  const own = containers.filter((c) => c.Labels[Labels.tool] !== undefined && c.Labels[Labels.backend] === BACKEND_NAME);
  return {
    bottles: own.filter((c) => c.Labels[EGRESS_FOR_LABEL] === undefined),
    proxies: own.filter((c) => c.Labels[EGRESS_FOR_LABEL] !== undefined),
  };
}

/** Every bottle of this backend among the containers the engine listed (surveyEngine), running or not; a running one whose egress proxy is not running is `degraded`. */
export function bottlesIn(containers: readonly ContainerSummary[]): BottleInfo[] {
  const { bottles, proxies } = ownContainers(containers);
  const byName = new Map(proxies.map((p) => [nameOf(p), p]));
  const published = portsByBottle(proxies.filter((p) => p.State === "running"));
  return bottles.map((c) => {
    const name = nameOf(c);
    const names = egressNames(name);
    const degraded = bottleState(c.State) === "running" ? proxyProblem(name, c, byName.get(names.proxy), byName.get(names.anchor)) : undefined;
    return {
      name,
      agent: c.Labels[Labels.agent] ?? "",
      backend: c.Labels[Labels.backend] ?? BACKEND_NAME,
      state: bottleState(c.State),
      workspace: c.Labels[Labels.workspace] ?? "",
      created: new Date(c.Created * 1000).toISOString(),
      ...(degraded && { degraded }),
      ...(published.has(name) && { ports: published.get(name) }),
      // Bottles from before the label say nothing rather than guess.
      ...(c.Labels[ISOLATION_LABEL] && { isolation: c.Labels[ISOLATION_LABEL] }),
    };
  });
}

/** Why a bottle on its own egress network cannot get out: its proxy, or the anchor that holds the proxy's address, is gone or not running. */
function proxyProblem(name: string, bottle: ContainerSummary, proxy: ContainerSummary | undefined, anchor: ContainerSummary | undefined): string | undefined {
  if (bottle.HostConfig?.NetworkMode !== egressNames(name).network) return undefined;
  for (const [what, container] of [["egress proxy", proxy], ["egress anchor", anchor]] as const) {
    if (container === undefined) return `its ${what} is gone: every request it makes fails`;
    if (container.State !== "running") return `its ${what} is not running (${container.Status.toLowerCase()}): every request it makes fails`;
  }
  return undefined;
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
  const [match] = (await listContainers(api, { name: [`^/${escaped}$`], label: OWN_BOTTLES })).bottles;
  if (!match) throw bottleNotFoundError(BACKEND_NAME, name);
  return match.Id;
}
