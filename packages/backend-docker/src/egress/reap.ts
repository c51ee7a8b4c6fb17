import { readdir } from "node:fs/promises";
import { Labels } from "@claude-bottle/core";
import type Dockerode from "dockerode";
import type { EngineApi } from "@claude-bottle/docker-engine";
import { ownerMayBeAlive } from "../container/owner.js";
import { EGRESS_FOR_LABEL } from "./labels.js";
import { bottlesWithCaKeys } from "./ca-key.js";
import { EGRESS_FILE_SUFFIXES, egressDir, removeEgress } from "./sidecar.js";

/**
 * Removes what a `start` killed with SIGKILL (or an engine restarted) left of
 * a bottle's egress: its proxy, its network, its files in the cache and the CA
 * key it kept in the state directory (with `env`). Each
 * command that lists bottles calls it. Egress whose bottle is gone is left
 * alone while the start that made it is alive: that start is still building
 * its image, and another process's `ls` must not take its way out.
 */
export async function reapEgress(api: EngineApi, cacheDir?: string, env?: Readonly<Record<string, string | undefined>>): Promise<void> {
  // The files are read first: one written after this look belongs to a network listed below, so a live start's files are never mistaken.
  const withFiles = [...(cacheDir ? await bottlesWithFiles(cacheDir) : []), ...(env ? await bottlesWithCaKeys(env) : [])];
  const filters = JSON.stringify({ label: [EGRESS_FOR_LABEL] });
  const [proxies, networks, containers] = await Promise.all([
    api.json<Dockerode.ContainerInfo[]>("GET", "/containers/json", { query: { all: true, filters } }),
    api.json<Dockerode.NetworkInspectInfo[]>("GET", "/networks", { query: { filters } }),
    api.json<Dockerode.ContainerInfo[]>("GET", "/containers/json", { query: { all: true, filters: JSON.stringify({ label: [Labels.tool] }) } }),
  ]);
  const living = new Set(containers.flatMap((c) => c.Names.map((n) => n.replace(/^\//, ""))));
  const owned = new Set(networks.filter((n) => ownerMayBeAlive(n.Labels, Date.parse(n.Created))).map((n) => n.Labels?.[EGRESS_FOR_LABEL]));
  const served = [...proxies.map((p) => p.Labels[EGRESS_FOR_LABEL]), ...networks.map((n) => n.Labels?.[EGRESS_FOR_LABEL]), ...withFiles];
  const orphans = new Set(served.filter((bottle): bottle is string => bottle !== undefined && !living.has(bottle) && !owned.has(bottle)));
  await Promise.all([...orphans].map((bottle) => removeEgress(api, bottle, cacheDir, env)));
}

/** The bottles that have egress files in the cache. */
async function bottlesWithFiles(cacheDir: string): Promise<string[]> {
  const entries = await readdir(egressDir(cacheDir)).catch(() => []);
  return entries.flatMap((entry) => {
    const suffix = EGRESS_FILE_SUFFIXES.find((s) => entry.endsWith(`.${s}`));
    return suffix ? [entry.slice(0, -suffix.length - 1)] : [];
  });
}
