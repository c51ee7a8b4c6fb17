import { hostname } from "node:os";
import { removeTag } from "@claude-bottle/docker-engine";
import { isProcessAlive, type BackendContext } from "@claude-bottle/core";
import type Dockerode from "dockerode";
import { REGISTRY_ROLE, RegistryLabels, removeContainer, type LocalRegistryOptions } from "./registry-settings.js";

/**
 * Whether a registry container was left behind: its owner process on this
 * host is gone, it names no owner, or it is older than `staleAfterMs` (an
 * owner on another host sharing the engine, or a pid reused since).
 */
export function registryIsStale(
  container: { Labels: Readonly<Record<string, string>>; Created: number },
  staleAfterMs: number,
  now = Date.now(),
): boolean {
  const pid = Number(container.Labels[RegistryLabels.ownerPid] ?? NaN);
  const sameHost = container.Labels[RegistryLabels.ownerHost] === hostname();
  if (now - container.Created * 1000 >= staleAfterMs) return true;
  // A registry without an owner label was not started by a run that could still be using it.
  return !Number.isInteger(pid) || pid <= 0 || (sameHost && !isProcessAlive(pid));
}

/** The repository this package's own pipeline pushes under (`localhost:PORT/claude-bottle:KEY`). */
export const TEMPORARY_REPOSITORY = "claude-bottle";

/** The registry part of a temporary tag: how the engine reached one of these registries. */
const TEMPORARY_TAG_HOST = /^(?:localhost|host\.docker\.internal):(\d+)\/(.+):[^:/]+$/;

/** The host ports a registry container publishes its port 5000 on (none once it has stopped). */
function publishedPorts(summary: Dockerode.ContainerInfo): number[] {
  return (summary.Ports ?? []).filter((p) => p.PrivatePort === 5000 && p.PublicPort).map((p) => p.PublicPort);
}

/**
 * Removes registries left behind by runs that were killed before they could
 * clean up: those whose owner process on this host is gone, and any older
 * than `staleAfterMs` (an owner on another host sharing the engine, or a
 * reused pid). With them go the temporary tags such a run left in the engine
 * (a run killed in the middle of a push never removes its tag, and a tag pins
 * the whole image): every tag that names a removed registry's port, and every
 * `localhost:PORT/claude-bottle:…` or `host.docker.internal:PORT/claude-bottle:…`
 * whose port no live registry of ours publishes. Returns how many registries
 * it removed.
 */
export async function reapStaleRegistries(
  docker: Dockerode,
  options: Pick<LocalRegistryOptions, "staleAfterMs"> = {},
  ctx: Partial<Pick<BackendContext, "logger">> = {},
): Promise<number> {
  const staleAfterMs = options.staleAfterMs ?? 60 * 60 * 1000;
  // Tags first: a tag made after this listing belongs to a registry that the listing below finds alive.
  const tags = await temporaryTags(docker);
  const containers = await docker.listContainers({
    all: true,
    filters: { label: [`${RegistryLabels.role}=${REGISTRY_ROLE}`] },
  });
  let removed = 0;
  const livePorts = new Set<number>();
  const reapedPorts = new Set<number>();
  for (const summary of containers) {
    if (!registryIsStale(summary, staleAfterMs)) {
      for (const port of publishedPorts(summary)) livePorts.add(port);
      continue;
    }
    const pid = summary.Labels[RegistryLabels.ownerPid];
    ctx.logger?.debug(`Removing the stale local registry ${summary.Names[0] ?? summary.Id} (owner pid ${pid})`);
    for (const port of publishedPorts(summary)) reapedPorts.add(port);
    await removeContainer(docker.getContainer(summary.Id));
    removed++;
  }
  const condemned = tags.filter((t) => reapedPorts.has(t.port) || (!livePorts.has(t.port) && t.repository === TEMPORARY_REPOSITORY));
  await removeTemporaryTags(docker, condemned, ctx);
  return removed;
}

interface TemporaryTag {
  tag: string;
  port: number;
  repository: string;
}

/** The engine's tags that name a registry on the host's loopback or Docker Desktop's host: `localhost:PORT/…`, `host.docker.internal:PORT/…`. */
async function temporaryTags(docker: Dockerode): Promise<TemporaryTag[]> {
  const images = await docker.listImages();
  return images.flatMap((image) =>
    (image.RepoTags ?? []).flatMap((tag) => {
      const match = TEMPORARY_TAG_HOST.exec(tag);
      return match ? [{ tag, port: Number(match[1]), repository: match[2]! }] : [];
    }),
  );
}

async function removeTemporaryTags(docker: Dockerode, tags: readonly TemporaryTag[], ctx: Partial<Pick<BackendContext, "logger">>): Promise<void> {
  for (const { tag } of tags) {
    ctx.logger?.debug(`Removing the temporary tag ${tag}, left by a run that was killed`);
    await removeTag(docker, tag).catch((error: unknown) => ctx.logger?.warn(`Could not remove the temporary tag ${tag}: ${(error as Error).message}`));
  }
}
