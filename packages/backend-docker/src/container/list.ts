import type { BackendContext, BottleInfo } from "@claude-bottle/core";
import type { EngineApi } from "@claude-bottle/docker-engine";
import { bottlesWithEgressFiles, reapEgress } from "../egress/reap.js";
import { bottlesIn } from "./bottles.js";
import { reapUnstarted } from "./reap.js";
import { surveyEngine } from "./survey.js";

/**
 * `list`: the bottles, after what a killed CLI left (a bottle it never
 * started, a proxy, a network, their files) is removed, all from one survey
 * of the engine: nothing is asked again for the reapers.
 */
export async function listAndReap(api: EngineApi, ctx: Pick<BackendContext, "cacheDir" | "env" | "logger">): Promise<BottleInfo[]> {
  const withFiles = await bottlesWithEgressFiles(ctx.cacheDir, ctx.env);
  const survey = await surveyEngine(api);
  const reaped = await reapUnstarted(api, survey.containers);
  const containers = survey.containers.filter((c) => !reaped.has(c.Id));
  await reapEgress(api, { ...survey, containers }, withFiles, ctx.cacheDir, ctx.env).catch((error: unknown) =>
    ctx.logger.debug(`reaping egress proxies: ${String(error)}`),
  );
  return bottlesIn(containers);
}
