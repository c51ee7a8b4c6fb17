import { BottleError, ErrorCodes, Labels, type BottleInfo, type BottleState } from "@claude-bottle/core";
import type Dockerode from "dockerode";
import { BACKEND_NAME } from "./labels.js";

/** Label filters that select this backend's bottles and nothing else on the engine. */
const OWN_BOTTLES = [Labels.tool, `${Labels.backend}=${BACKEND_NAME}`];

/** Every bottle of this backend, running or not. */
export async function listBottles(docker: Dockerode): Promise<BottleInfo[]> {
  const containers = await docker.listContainers({ all: true, filters: { label: OWN_BOTTLES } });
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

/** The container of the bottle called `name`; a container of another tool or backend does not count. */
export async function findBottle(docker: Dockerode, name: string): Promise<Dockerode.Container> {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const [match] = await docker.listContainers({
    all: true,
    filters: { name: [`^/${escaped}$`], label: OWN_BOTTLES },
  });
  if (!match) {
    throw new BottleError(ErrorCodes.BOTTLE_NOT_FOUND, `There is no bottle called ${name} on the docker backend.`, {
      hint: "List the bottles with `claude-bottle ls`.",
    });
  }
  return docker.getContainer(match.Id);
}
