import { BottleError, ErrorCodes, requireCapability } from "@claude-bottle/core";
import { hostGitIdentity, identityVariables } from "../bottles/identity.js";
import { removeBottleDir } from "../bottles/records.js";
import { settleBranch } from "../bottles/branch.js";
import { quarantine } from "../bottles/setup.js";
import { recordOf } from "../bottles/view.js";
import { mergeCommand, nestedRepositories, removeWorktree, saveChanges, uncommittedChanges } from "../bottles/worktree.js";
import { withSession, type CommandEnvironment } from "../context.js";
import { ExitCodes } from "../exit-codes.js";
import { printableLine } from "../render/printable.js";
import { loadSelectedBackend } from "../select-backend.js";

/**
 * `rm <bottle> [-f]`: removes a stopped bottle; with --force a running one
 * too. A worktree bottle's branch is moved to the commits it made (on its
 * detached HEAD); its uncommitted changes make it refuse without --force,
 * and with it are saved as a commit on the branch first; the checkout goes, the branch stays, and the user is told how to merge it.
 */
export async function rm(environment: CommandEnvironment, bottle: string, options: { force: boolean }): Promise<number> {
  return withSession(environment, {}, async (session) => {
    const { backend } = await loadSelectedBackend(session);
    const remove = requireCapability(backend, "remove");
    const found = await recordOf(session.context.env, backend.name, bottle);
    const worktree = found?.record?.worktree;
    if (worktree && !options.force) {
      const changes = await uncommittedChanges(worktree);
      if (changes.length > 0) {
        throw new BottleError(ErrorCodes.INVALID_ARGUMENT, `${bottle} has ${changes.length} uncommitted change${changes.length === 1 ? "" : "s"} in its worktree ${worktree.path}.`, {
          hint: `Commit them there, or run rm --force to save them as a commit on the branch ${worktree.branch} first.`,
        });
      }
    }
    try {
      await remove(bottle, { force: options.force }, session.context);
    } catch (error) {
      // An attached bottle whose start was killed may be gone already; its worktree is still to settle.
      if (!(worktree && BottleError.isInstance(error) && error.code === ErrorCodes.BOTTLE_NOT_FOUND)) throw error;
    }
    const out = (line: string) => process.stdout.write(`${printableLine(line)}\n`);
    if (found?.record?.gitWatch) await quarantine(bottle, found.record.gitWatch, new Date(found.record.createdAt), session.context);
    if (worktree) {
      await settleBranch(worktree, bottle, session.context.logger);
      // Read again: the bottle may have written more before it stopped.
      const nested = await nestedRepositories(worktree);
      if (nested.length > 0) {
        // A commit of the worktree would hold only a pointer to their work, and `git add` would run git inside them.
        out(`${bottle} made repositories of its own in its worktree (${nested.join(", ")}): no commit on ${worktree.branch} can hold their work, so ${worktree.path} stays as it is.`);
      } else {
        const changes = await uncommittedChanges(worktree);
        if (changes.length > 0) {
          const identity = identityVariables(await hostGitIdentity(worktree.repository));
          const commit = await saveChanges(worktree, bottle, identity);
          out(`Saved ${changes.length} uncommitted change${changes.length === 1 ? "" : "s"} of ${bottle} as commit ${commit} on branch ${worktree.branch}.`);
        }
        if (!(await removeWorktree(worktree))) session.context.logger.warn(`could not remove the worktree ${worktree.path}; it stays.`);
      }
      out(`The work of ${bottle} is on branch ${worktree.branch}. Merge it with: ${mergeCommand(worktree)}`);
    }
    if (found) await removeBottleDir(found.dir);
    return ExitCodes.OK;
  });
}
