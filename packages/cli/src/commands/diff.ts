import { changedFiles, withBottleChanges } from "../bottles/changes.js";
import { showGit, userPager } from "../bottles/git.js";
import { worktreeOf } from "../bottles/worktree-of.js";
import { withSession, type CommandEnvironment } from "../context.js";
import { ExitCodes } from "../exit-codes.js";
import { loadSelectedBackend } from "../select-backend.js";

export interface DiffOptions {
  stat: boolean;
  json: boolean;
}

/**
 * `diff <bottle> [--stat | --json]`: what a worktree bottle's branch, and its
 * uncommitted changes, change against the commit the branch started from.
 * Shown by the user's git, through the pager and diff settings of their own
 * checkout; no program the bottle's attributes pick runs (see changes.ts).
 */
export async function diff(environment: CommandEnvironment, bottle: string, options: DiffOptions): Promise<number> {
  const worktree = await withSession(environment, {}, async (session) => {
    const { backend } = await loadSelectedBackend(session);
    return worktreeOf(session.context.env, backend.name, bottle);
  });
  if (options.json) {
    const files = await changedFiles(worktree);
    process.stdout.write(`${JSON.stringify({ name: bottle, branch: worktree.branch, files }, null, 2)}\n`);
    return ExitCodes.OK;
  }
  const pager = await userPager(worktree.repository, "diff");
  return withBottleChanges(worktree, async (changes) => {
    const code = await showGit([...changes.diff, ...(options.stat ? ["--stat"] : []), ...changes.revisions, "--"], { cwd: changes.cwd, env: changes.env, pager });
    return code === 0 ? ExitCodes.OK : ExitCodes.ERROR;
  });
}
