import { Readable } from "node:stream";
import type Dockerode from "dockerode";
import { pack } from "tar-stream";
import type { HostUser } from "./create-options.js";

/** HOME inside every bottle. */
export const HOME_DIR = "/home/agent";

/**
 * The per-agent volume is mounted one level up, at /home, because the engine
 * cannot give a volume's root to a user at creation, while it can create a
 * directory inside it with any owner (see prepareHomeDirectory). A first mount
 * copies the image's own /home into the volume, as Docker does for any volume.
 */
export const HOME_VOLUME_TARGET = "/home";

/** One volume per agent, so a login made in one bottle is there in the next. */
export function homeVolumeName(slug: string): string {
  return `claude-bottle-home-${slug}`;
}

/**
 * Makes HOME a directory the bottle's user owns, before the container starts.
 * The engine extracts the archive as root and keeps the owner it names; an
 * existing directory keeps its contents and only gets the owner and mode.
 * This needs nothing from the image (no shell, no chown), and no extra container.
 */
export async function prepareHomeDirectory(container: Dockerode.Container, user: HostUser | undefined): Promise<void> {
  const tar = pack();
  tar.entry({ name: HOME_DIR.slice(HOME_VOLUME_TARGET.length + 1), type: "directory", mode: 0o755, uid: user?.uid ?? 0, gid: user?.gid ?? 0 });
  tar.finalize();
  await container.putArchive(Readable.from(tar), { path: HOME_VOLUME_TARGET });
}
