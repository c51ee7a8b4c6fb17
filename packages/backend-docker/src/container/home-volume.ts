import { createHash } from "node:crypto";
import { Labels, realPath, toolLabels } from "@claude-bottle/core";
import type { EngineApi } from "@claude-bottle/docker-engine";
import { statusCodeOf } from "@claude-bottle/docker-engine";
import type { HostUser } from "./create-options.js";
import { BACKEND_NAME } from "./labels.js";

/** HOME inside every bottle. */
export const HOME_DIR = "/home/agent";

/**
 * The per-agent volume is mounted one level up, at /home, because the engine
 * cannot give a volume's root to a user, while it can create a directory
 * inside it with any owner (see prepareHomeDirectory). A first mount copies
 * the image's own /home into the volume, as Docker does for any volume.
 */
export const HOME_VOLUME_TARGET = "/home";

/** Records, on the volume, which user HOME was made for; set when the volume is created. */
export const HOME_OWNER_LABEL = Labels.homeOwner;

/** Records, on the volume, the real path of the project whose bottles use it. */
export const HOME_PROJECT_LABEL = Labels.homeProject;

/**
 * One volume per agent and per project (the workspace's real path), so a
 * login made in one bottle is there in the next of the same project, while
 * settings, hooks and transcripts never cross projects (SECURITY.md point 5).
 */
export function homeVolumeName(slug: string, workspace: string): string {
  return `claude-bottle-home-${slug}-${createHash("sha256").update(realPath(workspace)).digest("hex").slice(0, 12)}`;
}

/** The volume every project's bottles of an agent shared before homes were per project. */
export function legacyHomeVolumeName(slug: string): string {
  return `claude-bottle-home-${slug}`;
}

function ownerOf(user: HostUser | undefined): string {
  return user ? `${user.uid}:${user.gid}` : "image";
}

/**
 * The state of an agent's home volume: `ready` (made for this user: nothing to
 * do, which keeps the extra work off every warm start), `created` just now,
 * or `foreign` (made for another user: HOME must be given to this one).
 */
export type HomeVolumeState = "ready" | "created" | "foreign";

/** Makes sure the agent's home volume exists, and says whether HOME still has to be made. */
export async function ensureHomeVolume(api: EngineApi, slug: string, workspace: string, user: HostUser | undefined): Promise<HomeVolumeState> {
  const name = homeVolumeName(slug, workspace);
  try {
    const volume = await api.json<{ Labels?: Record<string, string> | null }>("GET", `/volumes/${encodeURIComponent(name)}`);
    return volume.Labels?.[HOME_OWNER_LABEL] === ownerOf(user) ? "ready" : "foreign";
  } catch (error) {
    if (statusCodeOf(error) !== 404) throw error;
  }
  await api.json("POST", "/volumes/create", {
    body: {
      Name: name,
      Labels: toolLabels({
        [Labels.agent]: slug,
        [Labels.backend]: BACKEND_NAME,
        [HOME_OWNER_LABEL]: ownerOf(user),
        [HOME_PROJECT_LABEL]: realPath(workspace),
      }),
    },
  });
  return "created";
}

/**
 * Makes HOME a directory the bottle's user owns, before the container starts.
 * The engine extracts the archive as root and keeps the owner it names; an
 * existing directory keeps its contents and only gets the owner and mode.
 * This needs nothing from the image (no shell, no chown) and no extra container.
 * tar-stream is loaded here, once per volume, rather than on every start.
 */
export async function prepareHomeDirectory(api: EngineApi, container: string, user: HostUser | undefined): Promise<void> {
  const { pack } = await import("tar-stream");
  const tar = pack();
  tar.entry({ name: HOME_DIR.slice(HOME_VOLUME_TARGET.length + 1), type: "directory", mode: 0o755, uid: user?.uid ?? 0, gid: user?.gid ?? 0 });
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of tar) chunks.push(chunk as Buffer);
  await api.json("PUT", `/containers/${container}/archive`, {
    query: { path: HOME_VOLUME_TARGET },
    bytes: { data: Buffer.concat(chunks), type: "application/x-tar" },
  });
}

/** A home volume as `ls --homes` shows it. */
export interface HomeVolume {
  name: string;
  agent: string;
  /** The project's real path; empty for a home from before homes were per project. */
  project: string;
}

/** Every home volume of this backend, per-project ones and older per-agent ones. */
export async function listHomeVolumes(api: EngineApi): Promise<HomeVolume[]> {
  const { Volumes } = await api.json<{ Volumes: { Name: string; Labels?: Record<string, string> | null }[] | null }>("GET", "/volumes", {
    query: { filters: JSON.stringify({ label: [HOME_OWNER_LABEL, `${Labels.backend}=${BACKEND_NAME}`] }) },
  });
  return (Volumes ?? []).map((v) => ({ name: v.Name, agent: v.Labels?.[Labels.agent] ?? "", project: v.Labels?.[HOME_PROJECT_LABEL] ?? "" }));
}
