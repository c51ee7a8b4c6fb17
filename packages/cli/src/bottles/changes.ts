import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BottleError, ErrorCodes } from "@claude-bottle/core";
import { bottleDiffOptions, bottleWorkEnvironment, runGit, type GitResult } from "./git.js";
import type { WorktreeRecord } from "./records.js";

/**
 * Where git is to compare a worktree bottle's work with the commit its branch
 * started from: the worktree as it is (commits and uncommitted changes, new
 * files among them) while it exists, the branch once it is gone.
 */
export interface BottleChanges {
  /** Where git runs, and its environment: the bottle's git directories as recorded, every driver blanked. */
  cwd: string;
  env: Record<string, string>;
  /** `git diff` arguments before the caller's own: the drivers off. After them come `revisions`. */
  diff: readonly string[];
  revisions: readonly string[];
}

/**
 * Runs `work` on a bottle's changes. The uncommitted ones are seen through an
 * index of our own, in a temporary directory: the commit the worktree is on,
 * with each new file added as "intent to add", so `git diff` shows it as
 * new; the bottle's own index is never read or written.
 */
export async function withBottleChanges<T>(worktree: WorktreeRecord, work: (changes: BottleChanges) => Promise<T>): Promise<T> {
  const base = await startOf(worktree);
  if (!existsSync(worktree.path) || !existsSync(worktree.gitDir)) {
    const env = await bottleWorkEnvironment({ cwd: worktree.repository, env: { GIT_DIR: worktree.commonDir } });
    return work({ cwd: worktree.repository, env, diff: ["diff", ...bottleDiffOptions], revisions: [base, `refs/heads/${worktree.branch}`] });
  }
  const scratch = await mkdtemp(join(tmpdir(), "claude-bottle-diff-"));
  try {
    const env = await bottleWorkEnvironment({
      cwd: worktree.path,
      env: { GIT_DIR: worktree.gitDir, GIT_COMMON_DIR: worktree.commonDir, GIT_WORK_TREE: worktree.path, GIT_INDEX_FILE: join(scratch, "index"), GIT_LITERAL_PATHSPECS: "1" },
    });
    const run = (args: readonly string[]) => runGit(args, { cwd: worktree.path, env });
    must(worktree, await run(["read-tree", "HEAD"]));
    const others = must(worktree, await run(["ls-files", "-z", "--others", "--exclude-standard"]));
    // A directory (`dir/`) is a repository nested in the worktree: never added, so git never looks inside it.
    const added = others.split("\0").filter((path) => path && !path.endsWith("/"));
    if (added.length > 0) {
      const list = join(scratch, "new-files");
      await writeFile(list, `${added.join("\0")}\0`, { mode: 0o600 });
      must(worktree, await run(["add", "--intent-to-add", `--pathspec-from-file=${list}`, "--pathspec-file-nul"]));
    }
    return await work({ cwd: worktree.path, env, diff: ["diff", ...bottleDiffOptions], revisions: [base] });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Files and line counts, as `diff --json` prints them; `null` counts for a binary file. */
export interface ChangedFile {
  path: string;
  added: number | null;
  deleted: number | null;
}

/** `git diff --numstat -z`, read: a rename is given as the path it went to. */
export function parseNumstat(output: string): ChangedFile[] {
  const fields = output.split("\0");
  const files: ChangedFile[] = [];
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!;
    if (!field) continue;
    const [added, deleted, path] = field.split("\t");
    const count = (n: string | undefined) => (n === undefined || n === "-" ? null : Number(n));
    // `added<TAB>deleted<TAB>` with an empty path: a rename, its old and new paths follow as fields of their own.
    const name = path === "" ? (i += 2, fields[i]!) : path!;
    files.push({ path: name, added: count(added), deleted: count(deleted) });
  }
  return files;
}

/** The files a bottle changed and their line counts. */
export async function changedFiles(worktree: WorktreeRecord): Promise<ChangedFile[]> {
  return withBottleChanges(worktree, async (changes) => {
    const result = await runGit([...changes.diff, "--numstat", "-z", ...changes.revisions, "--"], { cwd: changes.cwd, env: changes.env });
    return parseNumstat(must(worktree, result));
  });
}

/** The commit the branch started from: recorded at start, or for an older record where the branch and the checkout's HEAD meet. */
async function startOf(worktree: WorktreeRecord): Promise<string> {
  if (worktree.base) return worktree.base;
  const met = await runGit(["merge-base", "HEAD", `refs/heads/${worktree.branch}`], { cwd: worktree.repository, env: { GIT_DIR: worktree.commonDir } });
  return must(worktree, met).trim();
}

function must(worktree: WorktreeRecord, result: GitResult): string {
  if (result.code === 0) return result.stdout;
  throw new BottleError(ErrorCodes.INVALID_ARGUMENT, `Cannot read what the branch ${worktree.branch} changes: ${result.stderr.trim()}`, {
    hint: `Look at it yourself: git -C ${worktree.repository} log ${worktree.branch}`,
  });
}
