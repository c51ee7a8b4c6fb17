import { Labels, testRunLabels } from "@claude-bottle/core";
import type { EngineApi } from "../engine/api.js";
import { statusCodeOf } from "../errors.js";
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
export const HOME_OWNER_LABEL = "dev.claude-bottle.home-owner";

/** One volume per agent, so a login made in one bottle is there in the next. */
export function homeVolumeName(slug: string): string {
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
export async function ensureHomeVolume(api: EngineApi, slug: string, user: HostUser | undefined): Promise<HomeVolumeState> {
  const name = homeVolumeName(slug);
  try {
    const volume = await api.json<{ Labels?: Record<string, string> | null }>("GET", `/volumes/${encodeURIComponent(name)}`);
    return volume.Labels?.[HOME_OWNER_LABEL] === ownerOf(user) ? "ready" : "foreign";
  } catch (error) {
    if (statusCodeOf(error) !== 404) throw error;
  }
  await api.json("POST", "/volumes/create", {
    body: {
    Name: name,
      Labels: { [Labels.tool]: "true", [Labels.agent]: slug, [Labels.backend]: BACKEND_NAME, [HOME_OWNER_LABEL]: ownerOf(user), ...testRunLabels() },
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
