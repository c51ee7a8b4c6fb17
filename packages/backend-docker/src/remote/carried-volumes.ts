import { Labels, toolLabels } from "@claude-bottle/core";
import type { EngineApi } from "@claude-bottle/docker-engine";
import { statusCodeOf } from "@claude-bottle/docker-engine";
import { BACKEND_NAME } from "../container/labels.js";

/** On every volume that holds a copy carried to a remote engine for a bottle: the bottle's name. */
export const CARRIED_FOR_LABEL = Labels.carriedFor;

/** Where a helper container mounts a volume while the engine fills it. */
const FILL_TARGET = "/carried";

/** The volume that is a remote bottle's /workspace. */
export function workspaceVolumeName(bottle: string): string {
  return `claude-bottle-carried-${bottle}-workspace`;
}

/** The volume that stands for the bottle's n-th bind mount (a status directory, a read-only hooks directory). */
export function mountVolumeName(bottle: string, index: number): string {
  return `claude-bottle-carried-${bottle}-mount-${index}`;
}

export async function createCarriedVolume(api: EngineApi, name: string, bottle: string): Promise<void> {
  await api.json("POST", "/volumes/create", {
    body: { Name: name, Labels: toolLabels({ [Labels.backend]: BACKEND_NAME, [CARRIED_FOR_LABEL]: bottle }) },
  });
}

/**
 * Fills a volume with an archive whose entries are named under `carried/`.
 * The engine writes into a container's mounts, so a container is made of the
 * bottle's own image (nothing to pull), never started, with the volume
 * mounted writable, and removed at once: a read-only mount of the bottle's
 * could not be written through the bottle itself.
 */
export async function fillVolume(api: EngineApi, image: string, volume: string, archive: Buffer): Promise<void> {
  const { Id } = await api.json<{ Id: string }>("POST", "/containers/create", {
    body: {
      Image: image,
      Entrypoint: ["/nonexistent"],
      Labels: toolLabels({ [Labels.backend]: BACKEND_NAME }),
      HostConfig: { NetworkMode: "none", Mounts: [{ Type: "volume", Source: volume, Target: FILL_TARGET }] },
    },
  });
  try {
    await api.json("PUT", `/containers/${Id}/archive`, { query: { path: "/" }, bytes: { data: archive, type: "application/x-tar" } });
  } finally {
    await api.json("DELETE", `/containers/${Id}`, { query: { force: true } }).catch(() => {});
  }
}

/** The name an archive entry gets to land at `path` inside the volume. */
export function underFillTarget(path: string): string {
  return path ? `${FILL_TARGET.slice(1)}/${path}` : FILL_TARGET.slice(1);
}

/** Removes every volume carried for a bottle; one already gone is not an error. */
export async function removeCarriedVolumes(api: EngineApi, bottle: string): Promise<void> {
  const { Volumes } = await api.json<{ Volumes: { Name: string }[] | null }>("GET", "/volumes", {
    query: { filters: JSON.stringify({ label: [`${CARRIED_FOR_LABEL}=${bottle}`] }) },
  });
  for (const { Name } of Volumes ?? []) {
    await api.json("DELETE", `/volumes/${encodeURIComponent(Name)}`).catch((error: unknown) => {
      if (statusCodeOf(error) !== 404) throw error;
    });
  }
}
