import { randomBytes } from "node:crypto";
import { constants, existsSync } from "node:fs";
import { open, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { BackendContext } from "@claude-bottle/core";
import { runGit } from "./git.js";
import type { WorktreeRecord } from "./records.js";

/** More than any HEAD git writes (`ref: refs/heads/<name>` or an object id); a larger one is not read. */
const MAX_HEAD_BYTES = 4096;

/**
 * A worktree bottle cannot write any ref (the repository's git directory is
 * read-only to it): it commits on a detached HEAD in its own
 * `.git/worktrees/<id>`. Once it is gone, the host moves its branch there.
 *
 * The branch goes to the worktree's HEAD when that names a commit, fast-forward
 * or not (the branch is the bottle's, and a rewritten history is its to
 * make; the old tip stays in the branch's reflog and the user is told).
 * Compare-and-swap on the tip read first, so a move the user made meanwhile
 * is not lost silently. Then HEAD is attached to the branch again, for the
 * user's git (and `rm --force`'s commit) in the worktree. Every write is one
 * git makes in the shared git directory, which the bottle cannot write, or a
 * rename of a new file over HEAD, which never follows a link the bottle left.
 */
export async function settleBranch(worktree: WorktreeRecord, bottle: string, logger: BackendContext["logger"]): Promise<void> {
  // Removed by the user already: nothing of the bottle's is left to settle.
  if (!existsSync(worktree.gitDir)) return;
  const common = { cwd: worktree.repository, env: { GIT_DIR: worktree.commonDir } };
  const ref = `refs/heads/${worktree.branch}`;
  const tip = (await runGit(["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], common)).stdout.trim();
  const content = await readHead(worktree.gitDir);
  // Attached to its branch already (a worktree made before bottles committed detached): the branch has the commits.
  if (content === `ref: ${ref}`) return;
  const head = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(content ?? "") ? content : undefined;
  const isCommit = head !== undefined && (await runGit(["cat-file", "-t", head], common)).stdout.trim() === "commit";
  if (!isCommit) {
    logger.warn(`The HEAD of ${bottle}'s worktree (${join(worktree.gitDir, "HEAD")}) names no commit; the branch ${worktree.branch} stays at ${tip.slice(0, 12)}.`);
  } else if (head !== tip) {
    const fastForward = (await runGit(["merge-base", "--is-ancestor", tip, head], common)).code === 0;
    const moved = await runGit(["update-ref", "-m", `claude-bottle: work of ${bottle}`, ref, head, tip], common);
    if (moved.code !== 0) {
      logger.warn(`Could not move the branch ${worktree.branch} to ${bottle}'s last commit ${head}: ${moved.stderr.trim()} Move it yourself: git -C ${worktree.repository} branch -f ${worktree.branch} ${head}`);
    } else if (!fastForward) {
      logger.warn(`${bottle} rewrote its history: the branch ${worktree.branch} moved from ${tip.slice(0, 12)} to ${head.slice(0, 12)}, not a fast-forward; the old tip stays in git reflog ${worktree.branch}.`);
    }
  }
  await attachHead(worktree.gitDir, ref).catch((error: Error) => logger.warn(`Could not attach the HEAD of ${worktree.path} to ${worktree.branch} again: ${error.message}`));
}

/** What a worktree's HEAD holds, trimmed; undefined for anything that is not a small plain file. */
async function readHead(gitDir: string): Promise<string | undefined> {
  // No link followed, no FIFO waited on: the bottle wrote this file.
  const file = await open(join(gitDir, "HEAD"), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
  if (!file) return undefined;
  try {
    const info = await file.stat();
    if (!info.isFile() || info.size > MAX_HEAD_BYTES) return undefined;
    return (await file.readFile("utf8")).trim();
  } finally {
    await file.close();
  }
}

/** HEAD made `ref: <ref>` by a rename of a file made new (`wx`), so nothing the bottle left at that name is written through. */
async function attachHead(gitDir: string, ref: string): Promise<void> {
  const temporary = join(gitDir, `HEAD.claude-bottle-${randomBytes(4).toString("hex")}`);
  await writeFile(temporary, `ref: ${ref}\n`, { flag: "wx", mode: 0o644 });
  await rename(temporary, join(gitDir, "HEAD")).catch(async (error: unknown) => {
    await rm(temporary, { force: true });
    throw error;
  });
}
