import { BottleError, ErrorCodes, bottleNotFoundError } from "@claude-bottle/core";
import type { WorktreeRecord } from "./records.js";
import { recordOf } from "./view.js";

/** The worktree of a bottle `diff` and `merge` work on; a clear error for a bottle that is unknown or has none. */
export async function worktreeOf(env: Readonly<Record<string, string | undefined>>, backend: string, bottle: string): Promise<WorktreeRecord> {
  const found = await recordOf(env, backend, bottle);
  if (!found?.record) throw bottleNotFoundError(backend, bottle);
  const { worktree } = found.record;
  if (!worktree) {
    throw new BottleError(ErrorCodes.INVALID_ARGUMENT, `${bottle} works in the project's own checkout, not in a worktree of its own: it has no branch to compare or merge.`, {
      hint: "Its changes are in the project itself: see them with git diff there. Start a bottle with --worktree to get a branch per bottle.",
    });
  }
  return worktree;
}
