import { Labels } from "@claude-bottle/core";
import type { EngineApi } from "@claude-bottle/docker-engine";
import { EGRESS_FOR_LABEL } from "../egress/labels.js";
import { removeContainer } from "./lifecycle.js";
import { BACKEND_NAME } from "./labels.js";
import { ownerMayBeAlive } from "./owner.js";
import type { ContainerSummary } from "./survey.js";

/**
 * Removes the bottles a killed `start` created and never started: nobody got
 * their name and no agent ran in them, so nothing of anyone's work is in
 * them. A created bottle whose start still lives is about to start. A bottle
 * that did start is the user's, even if its CLI died: `ls` shows it, and it
 * can be attached to or removed. Judges the containers the engine listed
 * (surveyEngine); returns the IDs it removed.
 */
export async function reapUnstarted(api: EngineApi, containers: readonly ContainerSummary[]): Promise<Set<string>> {
  const orphans = containers.filter(
    (c) =>
      c.State === "created" &&
      c.Labels[Labels.backend] === BACKEND_NAME &&
      // A proxy is created before it starts too, without an owner of its own: egress/reap.ts judges it by its network.
      c.Labels[EGRESS_FOR_LABEL] === undefined &&
      !ownerMayBeAlive(c.Labels, c.Created * 1000),
  );
  const removed = await Promise.all(orphans.map((c) => removeContainer(api, c.Id, { force: true }).then(() => c.Id, () => undefined)));
  return new Set(removed.filter((id): id is string => id !== undefined));
}
