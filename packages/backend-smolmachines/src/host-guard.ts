import {
  guardDirectories,
  guardFiles,
  recoverGuardedDirectories,
  restoreGuardedFiles,
  type BackendContext,
  type GuardedDirectory,
  type GuardedFile,
  type ReadOnlyOverlay,
  type BottleSpec,
} from "@claude-bottle/core";
import { guardedFilesOf, pinnedShares } from "./mounts.js";

/**
 * What a smolmachines bottle could change on the host despite its read-only
 * shares, taken when it starts: the single files smolvm cannot share
 * read-only (git config), and which directory each pinned and read-only
 * share is (`.git`, `.claude-bottle`), since root in the guest may unmount a
 * share and rename what was under it.
 */
export interface HostGuard {
  files: GuardedFile[];
  directories: GuardedDirectory[];
}

export async function guardHost(agent: BottleSpec, overlays: readonly ReadOnlyOverlay[]): Promise<HostGuard> {
  const directories = [...pinnedShares(agent, overlays), ...overlays.filter((o) => o.kind === "directory")].map((d) => d.source);
  return { directories: await guardDirectories(directories), files: await guardFiles(guardedFilesOf(overlays)) };
}

/**
 * Puts back what the bottle moved or changed, and says so: the user should
 * know the bottle tried. Directories first, so that a `.git` brought back
 * gets its config put back too.
 */
export async function restoreAndWarn(guard: HostGuard, ctx: Pick<BackendContext, "logger">): Promise<void> {
  for (const { path, quarantined, restoredFrom, leftAlone } of await recoverGuardedDirectories(guard.directories)) {
    if (leftAlone) {
      ctx.logger.warn(`the bottle replaced ${path}, which the host obeys, and it was left as it is: ${leftAlone}. Do not run git there until you have looked.`);
      continue;
    }
    const moved = quarantined ? `what the bottle put there is now ${quarantined} (do not run git in it)` : "the bottle had left nothing there";
    const back = restoredFrom ? `the original was brought back from ${restoredFrom}` : "the original was not found: it is gone";
    ctx.logger.warn(`the bottle moved or replaced ${path}, which the host obeys; ${moved}; ${back}.`);
  }
  for (const { path, keptAs, notRestored } of await restoreGuardedFiles(guard.files)) {
    if (notRestored) {
      ctx.logger.warn(`the bottle may have changed ${path}, which the host obeys, and it was not put back: ${notRestored}. Do not run git there until you have looked.`);
    } else {
      const kept = keptAs ? `the bottle's version is in ${keptAs}` : "the bottle had removed it";
      ctx.logger.warn(`the bottle changed ${path}, which the host obeys; it was put back (${kept}).`);
    }
  }
}
