import { createRequire } from "node:module";
import { BottleError, ErrorCodes, Labels, toolLabels, type PublishedPort } from "@claude-bottle/core";
import type Dockerode from "dockerode";
import type { EngineApi } from "@claude-bottle/docker-engine";
import { engineMessage, statusCodeOf } from "@claude-bottle/docker-engine";
import { DockerErrorCodes } from "../errors.js";
import { BACKEND_NAME } from "../container/labels.js";
import { EGRESS_FOR_LABEL } from "../egress/labels.js";
import { egressNames, lockedDown, subnetOf } from "../egress/sidecar.js";

/** On a published port's forwarder: `HOST:BOTTLE`, for `ls` and `port`. */
export const PUBLISHED_LABEL = Labels.published;

const SCRIPT_TARGET = "/opt/claude-bottle/egress/publish-port.js";

/** The loopback addresses a port is published on, and no other (SECURITY.md point 9). */
const LOOPBACK = ["127.0.0.1", "::1"] as const;

/** The network a bottle's forwarders publish from: theirs alone, one per bottle. */
export function publishNetworkName(bottle: string): string {
  return `${bottle}-publish`;
}

function forwarderName(bottle: string, hostPort: number): string {
  return `${bottle}-publish-${hostPort}`;
}

/**
 * Publishes `port` of a bottle on the user's loopback. The engine does not
 * publish ports of the bottle's internal network, so a forwarder does: a
 * container on that network and on a network of the bottle's own published
 * ports, with no route out (no masquerade) and no other container on it
 * (inter-container traffic off), whose port the engine binds to 127.0.0.1
 * and [::1] only. The forwarder listens on its published side only: from the
 * bottle it is an address where nothing answers, never a way out. A host port
 * already taken (another bottle, a program of the host) is PORT_IN_USE.
 */
export async function publishPort(api: EngineApi, bottle: string, port: PublishedPort, image: string): Promise<void> {
  const network = await ensurePublishNetwork(api, bottle);
  const labels = toolLabels({ [Labels.backend]: BACKEND_NAME, [EGRESS_FOR_LABEL]: bottle, [PUBLISHED_LABEL]: `${port.host}:${port.bottle}` });
  const containerPort = `${port.bottle}/tcp`;
  let id: string;
  try {
    ({ Id: id } = await api.json<{ Id: string }>("POST", "/containers/create", {
      query: { name: forwarderName(bottle, port.host) },
      body: {
        Image: image,
        Entrypoint: ["node"],
        Cmd: [SCRIPT_TARGET, "--listen-in", network.subnet, "--port", String(port.bottle), "--to", `${bottle}:${port.bottle}`],
        User: "65534:65534",
        Labels: labels,
        ExposedPorts: { [containerPort]: {} },
        HostConfig: {
          NetworkMode: network.name,
          PortBindings: { [containerPort]: LOOPBACK.map((HostIp) => ({ HostIp, HostPort: String(port.host) })) },
          Mounts: [{ Type: "bind", Source: createRequire(import.meta.url).resolve("@claude-bottle/egress-proxy/publish-port.js"), Target: SCRIPT_TARGET, ReadOnly: true }],
          ...lockedDown(64 * 2 ** 20, 16),
        },
      } satisfies Dockerode.ContainerCreateOptions,
    }));
  } catch (error) {
    if (statusCodeOf(error) === 409) throw alreadyPublished(bottle, port, error);
    throw publishFailed(bottle, port, error);
  }
  try {
    await api.json("POST", `/networks/${encodeURIComponent(egressNames(bottle).network)}/connect`, { body: { Container: id } });
    await api.json("POST", `/containers/${id}/start`);
  } catch (error) {
    await api.json("DELETE", `/containers/${id}`, { query: { force: true } }).catch(() => {});
    if (/already allocated|address already in use/i.test(engineMessage(error))) {
      throw new BottleError(ErrorCodes.PORT_IN_USE, `Port ${port.host} of your loopback is taken, so ${bottle}'s port ${port.bottle} cannot be published there.`, {
        hint: `Another bottle or a program of this machine has it (claude-bottle ls shows bottles' ports). Publish on another host port: --publish ${freeHint(port)}:${port.bottle}`,
        cause: error,
      });
    }
    throw publishFailed(bottle, port, error);
  }
}

/** Publishes each of `ports` (see publishPort), one after another: the first makes their network. */
export async function publishPorts(api: EngineApi, bottle: string, ports: readonly PublishedPort[], image: string): Promise<void> {
  for (const port of ports) await publishPort(api, bottle, port, image);
}

/** The bottle's published ports, by bottle, as the forwarders' labels say. */
export function portsByBottle(containers: readonly { Labels: Record<string, string> }[]): Map<string, PublishedPort[]> {
  const found = new Map<string, PublishedPort[]>();
  for (const { Labels: labels } of containers) {
    const bottle = labels[EGRESS_FOR_LABEL];
    const match = /^(\d+):(\d+)$/.exec(labels[PUBLISHED_LABEL] ?? "");
    if (bottle === undefined || !match) continue;
    found.set(bottle, [...(found.get(bottle) ?? []), { host: Number(match[1]), bottle: Number(match[2]) }].sort((a, b) => a.host - b.host));
  }
  return found;
}

/** Removes a bottle's forwarders and their network; what is already gone is fine. Before the bottle's network: they are on it. */
export async function removePublishedPorts(api: EngineApi, bottle: string): Promise<void> {
  for (const id of await forwardersOf(api, bottle)) {
    await api.json("DELETE", `/containers/${id}`, { query: { force: true } }).catch(ignoreMissing);
  }
  await api.json("DELETE", `/networks/${encodeURIComponent(publishNetworkName(bottle))}`).catch(ignoreMissing);
}

/** Stops a bottle's forwarders with it; `rm` removes them. */
export async function stopPublishedPorts(api: EngineApi, bottle: string): Promise<void> {
  for (const id of await forwardersOf(api, bottle)) {
    await api.json("POST", `/containers/${id}/stop`, { query: { t: 1 } }).catch(ignoreMissing);
  }
}

async function forwardersOf(api: EngineApi, bottle: string): Promise<string[]> {
  const filters = JSON.stringify({ label: [`${EGRESS_FOR_LABEL}=${bottle}`, PUBLISHED_LABEL] });
  const found = await api.json<{ Id: string }[]>("GET", "/containers/json", { query: { all: true, filters } });
  return found.map((c) => c.Id);
}

/** The bottle's publish network, made on its first published port. */
async function ensurePublishNetwork(api: EngineApi, bottle: string): Promise<{ name: string; subnet: string }> {
  const name = publishNetworkName(bottle);
  const existing = await api.json<Dockerode.NetworkInspectInfo>("GET", `/networks/${encodeURIComponent(name)}`).catch((error: unknown) => {
    if (statusCodeOf(error) === 404) return undefined;
    throw error;
  });
  if (existing) return { name, subnet: await subnetOf(api, existing.Id) };
  const created = await api.json<{ Id: string }>("POST", "/networks/create", {
    body: {
      Name: name,
      CheckDuplicate: true,
      Labels: toolLabels({ [Labels.backend]: BACKEND_NAME, [EGRESS_FOR_LABEL]: bottle }),
      Options: {
        // No way out through it (the forwarder only answers), and no container on it reaches another.
        "com.docker.network.bridge.enable_ip_masquerade": "false",
        "com.docker.network.bridge.enable_icc": "false",
      },
    },
  }).catch((error: unknown) => {
    // Another `port` of the same bottle made it meanwhile.
    if (statusCodeOf(error) === 409) return undefined;
    throw error;
  });
  return { name, subnet: await subnetOf(api, created?.Id ?? name) };
}

function alreadyPublished(bottle: string, port: PublishedPort, cause: unknown): BottleError {
  return new BottleError(ErrorCodes.PORT_IN_USE, `${bottle} already publishes a port on ${port.host} of your loopback.`, {
    hint: `See its ports with claude-bottle port ${bottle}; publish on another host port: claude-bottle port ${bottle} ${freeHint(port)}:${port.bottle}`,
    cause,
  });
}

function publishFailed(bottle: string, port: PublishedPort, cause: unknown): BottleError {
  return new BottleError(DockerErrorCodes.DOCKER_EGRESS_FAILED, `The port ${port.bottle} of ${bottle} could not be published on ${port.host}: ${engineMessage(cause)}`, {
    hint: "Run `claude-bottle doctor`; the forwarder runs from the egress proxy's image.",
    cause,
  });
}

/** A host port to suggest instead of a taken one. */
function freeHint(port: PublishedPort): number {
  return port.host < 65535 ? port.host + 1 : port.host - 1;
}

function ignoreMissing(error: unknown): void {
  if (statusCodeOf(error) !== 404) throw error;
}
