import { pushImage, removeTag, tagImage } from "@claude-bottle/docker-engine";
import type Dockerode from "dockerode";
import { desktopInsecureRegistryError } from "./desktop-insecure-registry.js";
import type { LocalRegistry, RegistryContext } from "./registry-settings.js";

/**
 * Pushes a local image into the registry as `repositoryTag` (`name:tag`) and
 * returns the reference a host process pulls it by (`hostEndpoint/name:tag`).
 * The engine pushes through `daemonEndpoint`; the temporary tag it needs for
 * that is removed again whatever happens, since the registry keeps the image.
 */
export async function pushToLocalRegistry(
  docker: Dockerode,
  registry: Pick<LocalRegistry, "daemonEndpoint" | "hostEndpoint">,
  image: string,
  repositoryTag: string,
  ctx: RegistryContext,
): Promise<string> {
  const pushedRef = `${registry.daemonEndpoint}/${repositoryTag}`;
  await tagImage(docker, image, pushedRef);
  try {
    await pushImage(docker, pushedRef, ctx).catch((error: unknown) => {
      throw desktopInsecureRegistryError(error, registry);
    });
  } finally {
    await removeTag(docker, pushedRef).catch((error: unknown) =>
      ctx.logger?.warn(`Could not remove the temporary tag ${pushedRef}: ${(error as Error).message}`),
    );
  }
  return `${registry.hostEndpoint}/${repositoryTag}`;
}
