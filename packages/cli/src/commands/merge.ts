import { BottleError, ErrorCodes } from "@claude-bottle/core";
import { requireCapability } from "@claude-bottle/core/host";
import { settleBranch } from "../bottles/branch.js";
import { bottleWorkEnvironment, runGit, type GitResult } from "../bottles/git.js";
import { hostGitIdentity, identityVariables } from "../bottles/identity.js";
import { removeBottleDir, type WorktreeRecord } from "../bottles/records.js";
import { quarantine } from "../bottles/setup.js";
import { recordOf } from "../bottles/view.js";
import { findRepository, nestedRepositories, removeWorktree, saveChanges, uncommittedChanges } from "../bottles/worktree.js";
import { worktreeOf } from "../bottles/worktree-of.js";
import { canAsk, confirm } from "../confirm.js";
import { withSession, type CommandEnvironment } from "../context.js";
import { ExitCodes } from "../exit-codes.js";
import { printableLine } from "../render/printable.js";
import { loadSelectedBackend } from "../select-backend.js";

export type MergeMode = "merge" | "rebase" | "squash";

export interface MergeOptions {
  mode: MergeMode;
  /** Remove the bottle and its worktree once merged: true (--rm), false (--keep), or ask on a terminal. */
  remove?: boolean;
  /** Delete the branch too, once the bottle is removed (only if it is still where it was merged from). */
  deleteBranch: boolean;
}

/** How git's own stop is finished or given up, for each way of merging. */
const STOPPED: Record<MergeMode, { state: string; finish: string; abort: string }> = {
  merge: { state: "MERGE_HEAD", finish: "git add <files>, then git merge --continue", abort: "git merge --abort" },
  // Replayed one by one: git rebase would check out the bottle's branch, and its worktree holds it.
  rebase: { state: "CHERRY_PICK_HEAD", finish: "git add <files>, then git cherry-pick --continue", abort: "git cherry-pick --abort" },
  squash: { state: "", finish: "git add <files>, then git commit", abort: "git reset --merge" },
};

/**
 * `merge <bottle> [--rebase | --squash] [--rm | --keep] [--delete-branch]`:
 * brings a stopped worktree bottle's branch into the current branch of the
 * user's checkout. The bottle's last commits are put on its branch and its
 * uncommitted changes saved as a commit there, as `rm` does; a checkout
 * with changes of its own is refused. Every git here runs with the drivers
 * of the bottle's attributes blanked (runGitOnBottleWork): the merged
 * commits bring the bottle's `.gitattributes` into the user's checkout. A
 * conflict stops as git stops, in git's own state, and says how to go on.
 */
export async function merge(environment: CommandEnvironment, bottle: string, options: MergeOptions): Promise<number> {
  if (options.deleteBranch && options.remove === false) {
    throw new BottleError(ErrorCodes.INVALID_ARGUMENT, "--delete-branch removes the bottle first (its worktree holds the branch); it cannot go with --keep.", {
      hint: "Use --delete-branch alone (it implies --rm), or --keep alone.",
    });
  }
  return withSession(environment, {}, async (session) => {
    const { context } = session;
    const { backend } = await loadSelectedBackend(session);
    const worktree = await worktreeOf(context.env, backend.name, bottle);
    const info = (await requireCapability(backend, "list")(context)).find((b) => b.name === bottle);
    if (info && (info.state === "running" || info.state === "paused" || info.state === "created")) {
      throw new BottleError(ErrorCodes.BOTTLE_RUNNING, `${bottle} is still running: its last commits are not on the branch ${worktree.branch} yet.`, {
        hint: `Stop it first (claude-bottle stop ${bottle}), then merge; see what it changed meanwhile with claude-bottle diff ${bottle}.`,
      });
    }
    // Refused before anything is written: the bottle's work is settled only for a merge that can go ahead.
    const checkout = await userCheckout(context.cwd, worktree);
    const env = await bottleWorkEnvironment({ cwd: checkout });
    const git = (args: readonly string[]) => runGit(args, { cwd: checkout, env });
    const dirty = await git(["status", "--porcelain", "--untracked-files=no", "--ignore-submodules=dirty"]);
    if (dirty.code !== 0) throw gitFailed(checkout, dirty);
    if (dirty.stdout.trim()) {
      throw new BottleError(ErrorCodes.INVALID_ARGUMENT, `Your checkout ${checkout} has changes of its own; merge does not mix them with the work of ${bottle}.`, {
        hint: "Commit or stash them first (git stash), then merge again.",
      });
    }
    const out = (text: string) => {
      for (const line of text.split("\n")) if (line.trim()) process.stdout.write(`${printableLine(line)}\n`);
    };
    const record = (await recordOf(context.env, backend.name, bottle))?.record;
    if (record?.gitWatch) await quarantine(bottle, record.gitWatch, new Date(record.createdAt), context);
    await settleBranch(worktree, bottle, context.logger);
    const nested = await nestedRepositories(worktree);
    if (nested.length > 0) {
      throw new BottleError(ErrorCodes.INVALID_ARGUMENT, `${bottle} made repositories of its own in its worktree (${nested.join(", ")}): no commit on ${worktree.branch} can hold their work.`, {
        hint: `Look at them in ${worktree.path}; merge the branch yourself once you have taken what you need.`,
      });
    }
    const changes = await uncommittedChanges(worktree);
    if (changes.length > 0) {
      const commit = await saveChanges(worktree, bottle, identityVariables(await hostGitIdentity(worktree.repository)), "merge");
      out(`Saved ${changes.length} uncommitted change${changes.length === 1 ? "" : "s"} of ${bottle} as commit ${commit} on branch ${worktree.branch}.`);
    }

    const ref = `refs/heads/${worktree.branch}`;
    const tip = (await git(["rev-parse", "--verify", `${ref}^{commit}`])).stdout.trim();
    const current = (await git(["symbolic-ref", "--short", "-q", "HEAD"])).stdout.trim() || "the detached HEAD";
    const pending = Number((await git(["rev-list", "--count", `HEAD..${tip}`])).stdout.trim());
    if (pending === 0) {
      out(`${current} has all of ${worktree.branch} already; nothing to merge.`);
    } else {
      const run = await mergeBranch(git, options.mode, worktree.branch, tip, bottle);
      if (run.code !== 0) {
        out(run.stdout);
        out(run.stderr);
        const stopped = STOPPED[options.mode];
        const conflicted = (await git(["diff", "--name-only", "--diff-filter=U"])).stdout.trim();
        const inState = stopped.state ? (await git(["rev-parse", "-q", "--verify", stopped.state])).code === 0 : conflicted !== "";
        if (!inState) throw gitFailed(checkout, run);
        out(`The ${options.mode} of ${worktree.branch} into ${current} stopped on a conflict in ${checkout}${conflicted ? ` (${conflicted.split("\n").join(", ")})` : ""}.`);
        out(`Resolve it, then ${stopped.finish}; or give up with: ${stopped.abort}`);
        out(`The bottle ${bottle} and its worktree stay; remove them later with: claude-bottle rm ${bottle}`);
        return ExitCodes.CONFLICT;
      }
      out(run.stdout);
      out(`Merged ${worktree.branch} (${pending} commit${pending === 1 ? "" : "s"} of ${bottle}) into ${current}${options.mode === "merge" ? "" : ` (${options.mode === "squash" ? "squashed" : "rebased"})`}.`);
    }

    const remove = options.deleteBranch || (options.remove ?? (canAsk() ? await confirm(`Remove ${bottle} and its worktree ${worktree.path}? The branch ${worktree.branch} stays.`) : false));
    if (!remove) {
      out(`The bottle ${bottle} and its worktree stay; remove them with: claude-bottle rm ${bottle}`);
      return ExitCodes.OK;
    }
    try {
      await requireCapability(backend, "remove")(bottle, { force: false }, context);
    } catch (error) {
      // Gone already (an attached bottle's start was killed): its worktree is what is left.
      if (!(BottleError.isInstance(error) && error.code === ErrorCodes.BOTTLE_NOT_FOUND)) throw error;
    }
    if (!(await removeWorktree(worktree))) {
      context.logger.warn(`could not remove the worktree ${worktree.path}; it stays, and so does the branch ${worktree.branch}.`);
      return ExitCodes.OK;
    }
    const found = await recordOf(context.env, backend.name, bottle);
    if (found) await removeBottleDir(found.dir);
    out(`Removed ${bottle} and its worktree.`);
    if (options.deleteBranch) {
      // Only from the commit merged: a branch moved meanwhile keeps what it holds.
      const deleted = await runGit(["update-ref", "-d", ref, tip], { cwd: worktree.repository });
      if (deleted.code !== 0) context.logger.warn(`could not delete the branch ${worktree.branch}: ${deleted.stderr.trim()}`);
      else out(`Deleted the branch ${worktree.branch} (was ${tip.slice(0, 12)}).`);
    } else {
      out(`The branch ${worktree.branch} stays (delete it with git branch -d ${worktree.branch}).`);
    }
    return ExitCodes.OK;
  });
}

function mergeBranch(git: (args: readonly string[]) => Promise<GitResult>, mode: MergeMode, branch: string, tip: string, bottle: string): Promise<GitResult> {
  switch (mode) {
    case "merge":
      return git(["merge", "--no-edit", "--no-stat", "-m", `Merge branch '${branch}' (the work of ${bottle})`, tip]);
    case "rebase":
      return git(["cherry-pick", `HEAD..${tip}`]);
    case "squash":
      return (async () => {
        const squashed = await git(["merge", "--squash", "--no-stat", tip]);
        if (squashed.code !== 0) return squashed;
        return git(["commit", "--quiet", "--no-edit", "--no-verify"]);
      })();
  }
}

/**
 * The user's checkout to merge into: the one they run in when it is of the
 * bottle's repository (their main checkout or a worktree of their own),
 * else the main checkout the bottle was started from.
 */
async function userCheckout(cwd: string, worktree: WorktreeRecord): Promise<string> {
  const here = await findRepository(cwd).catch(() => undefined);
  return here && here.commonDir === worktree.commonDir && here.top !== worktree.path ? here.top : worktree.repository;
}

function gitFailed(checkout: string, result: GitResult): BottleError {
  return new BottleError(ErrorCodes.INVALID_ARGUMENT, `git failed in ${checkout}: ${printableLine(result.stderr.trim() || result.stdout.trim())}`, {
    hint: "See git's message; your checkout is as git left it (git status says how).",
  });
}
