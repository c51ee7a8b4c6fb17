import { readdir } from "node:fs/promises";
import type { EngineApi } from "@claude-bottle/docker-engine";
import { ownerMayBeAlive } from "../container/owner.js";
import { nameOf, type EngineSurvey } from "../container/survey.js";
import { EGRESS_FOR_LABEL } from "./labels.js";
import { bottlesWithCaKeys } from "./ca-key.js";
import { EGRESS_FILE_SUFFIXES, egressDir, removeEgress } from "./sidecar.js";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The bottles that have egress files in the cache, or a CA key in the state
 * directory. Read before the engine is surveyed: a file written after this
 * look belongs to a network the survey lists, so a live start's files are
 * never mistaken for left over.
 */
export async function bottlesWithEgressFiles(cacheDir: string, env: Env): Promise<string[]> {
  const [entries, keys] = await Promise.all([readdir(egressDir(cacheDir)).catch(() => []), bottlesWithCaKeys(env)]);
  const files = entries.flatMap((entry) => {
    const suffix = EGRESS_FILE_SUFFIXES.find((s) => entry.endsWith(`.${s}`));
    return suffix ? [entry.slice(0, -suffix.length - 1)] : [];
  });
  return [...files, ...keys];
}

/**
 * Removes what a `start` killed with SIGKILL (or an engine restarted) left of
 * a bottle's egress: its proxy, its network, its files in the cache and the CA
 * key it kept in the state directory. Each command that lists bottles calls
 * it, with what the engine listed (surveyEngine) and the files read before.
 * Egress whose bottle is gone is left alone while the start that made it is
 * alive: that start is still building its image, and another process's `ls`
 * must not take its way out.
 */
export async function reapEgress(api: EngineApi, survey: EngineSurvey, withFiles: readonly string[], cacheDir: string, env: Env): Promise<void> {
  const proxies = survey.containers.filter((c) => c.Labels[EGRESS_FOR_LABEL] !== undefined);
  const living = new Set(survey.containers.map(nameOf));
  const owned = new Set(survey.networks.filter((n) => ownerMayBeAlive(n.Labels, Date.parse(n.Created))).map((n) => n.Labels?.[EGRESS_FOR_LABEL]));
  const served = [...proxies.map((p) => p.Labels[EGRESS_FOR_LABEL]), ...survey.networks.map((n) => n.Labels?.[EGRESS_FOR_LABEL]), ...withFiles];
  const orphans = new Set(served.filter((bottle): bottle is string => bottle !== undefined && !living.has(bottle) && !owned.has(bottle)));
  await Promise.all([...orphans].map((bottle) => removeEgress(api, bottle, cacheDir, env)));
}
