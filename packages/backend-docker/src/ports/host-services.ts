import { createRequire } from "node:module";
import { BottleError, Labels, toolLabels } from "@claude-bottle/core";
import type Dockerode from "dockerode";
import type { EngineApi } from "@claude-bottle/docker-engine";
import { engineMessage, statusCodeOf } from "@claude-bottle/docker-engine";
import { DockerErrorCodes } from "../errors.js";
import { BACKEND_NAME } from "../container/labels.js";
import { EGRESS_FOR_LABEL } from "../egress/labels.js";
import { egressNames, lockedDown, subnetOf, waitUntilListening } from "../egress/sidecar.js";

const SCRIPT_TARGET = "/opt/claude-bottle/egress/host-services.js";
const SOCKETS_TARGET = "/run/claude-bottle/host-services";
/** The user the relay, the server and their sockets' directory are: nobody. */
const NOBODY = 65534;

export interface HostServicesNames {
  /** In the host's network namespace: Unix sockets in, the host's loopback out. */
  relay: string;
  /** In the egress anchor's network namespace: the bottle's network in, the relay's sockets out. */
  serve: string;
  /** Where the sockets are: a memory-backed volume only the two mount. */
  volume: string;
}

export function hostServicesNames(bottle: string): HostServicesNames {
  return { relay: `${bottle}-host-relay`, serve: `${bottle}-host-serve`, volume: `${bottle}-host-services` };
}

/**
 * Lets a bottle reach exactly `ports` of the user's loopback, and nothing else
 * of the host (SECURITY.md points 3 and 9): at the egress proxy's address on
 * the bottle's network, a listener for each named port, joined through Unix
 * sockets to a relay in the host's network namespace that dials the host's
 * loopback at that port. The relay listens on no network at all, and a port
 * not named has no listener and no socket. Resolves once both ends listen.
 */
export async function startHostServices(api: EngineApi, bottle: string, ports: readonly number[], image: string, signal: AbortSignal): Promise<void> {
  const names = hostServicesNames(bottle);
  const labels = toolLabels({ [Labels.backend]: BACKEND_NAME, [EGRESS_FOR_LABEL]: bottle });
  const egress = egressNames(bottle);
  try {
    await api.json("POST", "/volumes/create", {
      body: {
        Name: names.volume,
        Driver: "local",
        // In memory, owned by nobody, for nobody: the sockets never touch a disk and no other user opens them.
        DriverOpts: { type: "tmpfs", device: "tmpfs", o: `size=1m,uid=${NOBODY},gid=${NOBODY},mode=0700` },
        Labels: labels,
      },
    });
    const script = createRequire(import.meta.url).resolve("@claude-bottle/egress-proxy/host-services.js");
    const container = (name: string, cmd: string[], networkMode: string): Dockerode.ContainerCreateOptions & { name: string } => ({
      name,
      Image: image,
      Entrypoint: ["node"],
      Cmd: [SCRIPT_TARGET, ...cmd, "--dir", SOCKETS_TARGET, ...ports.flatMap((port) => ["--port", String(port)])],
      User: `${NOBODY}:${NOBODY}`,
      Labels: labels,
      HostConfig: {
        NetworkMode: networkMode,
        Mounts: [
          { Type: "bind", Source: script, Target: SCRIPT_TARGET, ReadOnly: true },
          { Type: "volume", Source: names.volume, Target: SOCKETS_TARGET },
        ],
        ...lockedDown(64 * 2 ** 20, 16),
      },
    });
    const subnet = await subnetOf(api, egress.network);
    for (const { name, ...body } of [
      container(names.relay, ["relay"], "host"),
      container(names.serve, ["serve", "--listen-in", subnet], `container:${egress.anchor}`),
    ]) {
      const { Id } = await api.json<{ Id: string }>("POST", "/containers/create", { query: { name }, body });
      await api.json("POST", `/containers/${Id}/start`);
      await waitUntilListening(api, Id, signal);
    }
  } catch (error) {
    await removeHostServices(api, bottle);
    if (BottleError.isInstance(error) || signal.aborted) throw error;
    throw new BottleError(DockerErrorCodes.DOCKER_EGRESS_FAILED, `The way to the host services ${ports.join(", ")} could not start: ${engineMessage(error)}`, {
      hint: "Run `claude-bottle doctor`; it runs from the egress proxy's image.",
      cause: error,
    });
  }
}

/** Removes both ends and their sockets; what is already gone is fine. Before the anchor: the server is in its namespace. */
export async function removeHostServices(api: EngineApi, bottle: string): Promise<void> {
  const names = hostServicesNames(bottle);
  for (const container of [names.serve, names.relay]) await api.json("DELETE", `/containers/${container}`, { query: { force: true } }).catch(ignoreMissing);
  await api.json("DELETE", `/volumes/${names.volume}`).catch(ignoreMissing);
}

/** Stops both ends with a detached bottle; `rm` removes them. */
export async function stopHostServices(api: EngineApi, bottle: string): Promise<void> {
  const names = hostServicesNames(bottle);
  for (const container of [names.serve, names.relay]) await api.json("POST", `/containers/${container}/stop`, { query: { t: 1 } }).catch(ignoreMissing);
}

function ignoreMissing(error: unknown): void {
  if (statusCodeOf(error) !== 404) throw error;
}
