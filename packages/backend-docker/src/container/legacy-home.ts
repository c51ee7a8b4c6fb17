import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { BackendContext } from "@claude-bottle/core";
import { statusCodeOf, type EngineApi } from "@claude-bottle/docker-engine";
import { legacyHomeVolumeName } from "./home-volume.js";

/**
 * Homes used to be one per agent, shared by every project. Such a volume is
 * no longer used and never deleted by us: the user hears once how to remove it.
 * The engine is asked once per agent, not on every start: a marker says it was.
 */
export async function noticeLegacyHome(api: EngineApi, slug: string, ctx: BackendContext): Promise<void> {
  const marker = join(ctx.cacheDir, "docker", "notices", `legacy-home-${slug}`);
  if (existsSync(marker)) return;
  const found = await api.json("GET", `/volumes/${legacyHomeVolumeName(slug)}`).then(
    () => true,
    (error: unknown) => (statusCodeOf(error) === 404 ? false : undefined),
  );
  // Unknown (the engine did not say): asked again next time.
  if (found === undefined) return;
  if (found) {
    ctx.logger.info(
      `homes are now one per project; the shared home volume ${legacyHomeVolumeName(slug)} is no longer used. Remove it when you no longer need what is in it: docker volume rm ${legacyHomeVolumeName(slug)}`,
    );
  }
  await mkdir(dirname(marker), { recursive: true }).then(() => writeFile(marker, "")).catch(() => {});
}

