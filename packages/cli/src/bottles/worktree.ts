import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { lstat, mkdir, readFile, realpath } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { BottleError, ErrorCodes, openForAppend, type Mount } from "@claude-bottle/core";
import { git, runGit, runGitOnBottleWork } from "./git.js";
import { dataDir, type WorktreeRecord } from "./records.js";

/** The checkout `start` runs from, and the git directory its worktrees share. */
export interface Repository {
  top: string;
  commonDir: string;
}

const notARepository = (dir: string, why: string) =>
  new BottleError(ErrorCodes.INVALID_ARGUMENT, `start --worktree needs a git repository with a commit, and ${dir} is not one (${why}).`, {
    hint: "Run it inside a git repository that has at least one commit, or start without --worktree.",
  });

export async function findRepository(dir: string): Promise<Repository> {
  const out = await git(["rev-parse", "--show-toplevel", "--git-common-dir"], { cwd: dir }, (stderr) => notARepository(dir, stderr || "git rev-parse failed"));
  const [top, common] = out.split("\n");
  if (!top || !common) throw notARepository(dir, "no working tree");
  await git(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], { cwd: top }, () => notARepository(dir, "no commit yet"));
  return { top: await realpath(top), commonDir: await realpath(resolve(dir, common)) };
}

/**
 * Where a repository's worktrees live: `$XDG_DATA_HOME/claude-bottle/worktrees/<name>-<hash>/`.
 * Outside the repository, so a bottle on the main checkout never sees
 * another's worktree and `git status` there stays quiet; in the user's data
 * directory, not a cache, since it holds work.
 */
export function worktreesDir(env: Readonly<Record<string, string | undefined>>, repository: Repository): string {
  const hash = createHash("sha256").update(repository.top).digest("hex").slice(0, 8);
  const name = basename(repository.top).replace(/[^A-Za-z0-9_.-]/g, "_") || "repository";
  return join(dataDir(env), "worktrees", `${name}-${hash}`);
}

/** A new worktree on a new branch from the repository's HEAD, at `<worktrees>/<bottle>`. */
export async function createWorktree(
  env: Readonly<Record<string, string | undefined>>,
  repository: Repository,
  bottle: string,
  branch: string,
): Promise<WorktreeRecord> {
  const { top } = repository;
  await git(["check-ref-format", "--branch", branch], { cwd: top }, () =>
    new BottleError(ErrorCodes.INVALID_ARGUMENT, `"${branch}" is not a valid branch name.`, { hint: "Name the branch as git would accept it: start --worktree my-branch." }),
  );
  if ((await runGit(["rev-parse", "--verify", "--quiet", `refs/heads/${branch}`], { cwd: top })).code === 0) {
    throw new BottleError(ErrorCodes.NAME_CONFLICT, `The branch ${branch} already exists in ${top}; a worktree bottle starts a new one.`, {
      hint: "Name another: start --worktree <new-branch> (claude-bottle never reuses or deletes a branch).",
    });
  }
  const path = join(worktreesDir(env, repository), bottle);
  if (existsSync(path)) {
    throw new BottleError(ErrorCodes.NAME_CONFLICT, `${path} already exists.`, { hint: "Start again: the next bottle gets another name." });
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // Named by its commit, so what the worktree starts from is what `diff` later compares with.
  const base = (await git(["rev-parse", "--verify", "HEAD^{commit}"], { cwd: top }, () => notARepository(top, "no commit yet"))).trim();
  // Absolute paths in the .git file, whatever the user's git prefers: the bottle sees the git directory at the same path.
  await git(["-c", "worktree.useRelativePaths=false", "worktree", "add", "--quiet", "-b", branch, path, base], { cwd: top }, (stderr) =>
    new BottleError(ErrorCodes.INVALID_ARGUMENT, `git could not make the worktree ${path}: ${stderr}`, { hint: "See git's message above." }),
  );
  // Detached: the bottle commits on its own HEAD, in its own git directory; the host moves the branch (see settleBranch).
  await git(["checkout", "--quiet", "--detach"], { cwd: path }, (stderr) =>
    new BottleError(ErrorCodes.INVALID_ARGUMENT, `git could not detach the HEAD of ${path}: ${stderr}`, { hint: "See git's message above." }),
  );
  const gitDir = await gitDirOfWorktree(path);
  const commonDir = resolve(gitDir, (await readFile(join(gitDir, "commondir"), "utf8").catch(() => "")).trim() || ".");
  // Laid read-only inside the objects the bottle writes (see worktreeMounts): there to be mounted, as git init makes them.
  for (const dir of ["pack", "info"]) await mkdir(join(commonDir, "objects", dir), { recursive: true, mode: 0o755 });
  // Git config of this worktree alone (read with extensions.worktreeConfig): made now, so it is there to be laid read-only.
  // The repository's git directory is shared read-write with its other bottles, which could plant a link here meanwhile.
  await (await openForAppend(join(gitDir, "config.worktree"), 0o644)).close();
  return { path, branch, repository: top, gitDir, commonDir, base };
}

async function gitDirOfWorktree(path: string): Promise<string> {
  const match = /^gitdir:\s*(.+?)\s*$/m.exec(await readFile(join(path, ".git"), "utf8"));
  if (!match?.[1] || !isAbsolute(match[1])) {
    throw new BottleError(ErrorCodes.INVALID_ARGUMENT, `git made ${path} without an absolute gitdir.`, { hint: "Update git, then start again." });
  }
  return match[1];
}

/**
 * What the bottle needs besides the worktree: the repository's git directory
 * at the very path the worktree's `.git` file names, read-only (refs,
 * packed-refs, tags, config, hooks, the main checkout's HEAD and index, other
 * worktrees' state), with read-write inside it only what a commit on a
 * detached HEAD writes: `objects/` (new loose objects) and the worktree's own
 * `worktrees/<id>` (its HEAD, index, logs). The packs and `objects/info`
 * (alternates) stay read-only, so the history already packed cannot be
 * removed. Parents before children: smolvm mounts in this order; docker sorts
 * by depth.
 */
export function worktreeMounts(worktree: WorktreeRecord): Mount[] {
  const objects = join(worktree.commonDir, "objects");
  return [
    { source: worktree.commonDir, target: worktree.commonDir, readOnly: true },
    { source: objects, target: objects, readOnly: false },
    ...["pack", "info"].map((dir) => ({ source: join(objects, dir), target: join(objects, dir), readOnly: true })),
    { source: worktree.gitDir, target: worktree.gitDir, readOnly: false },
  ];
}

/**
 * Git run on a worktree a bottle has written, with its git directories given
 * from what claude-bottle recorded: never from the `.git` file or `commondir`
 * in the checkout, which the bottle could have pointed elsewhere.
 */
export function worktreeGit(worktree: WorktreeRecord, args: readonly string[], env: Readonly<Record<string, string>> = {}) {
  return runGitOnBottleWork(args, {
    cwd: worktree.path,
    env: { GIT_DIR: worktree.gitDir, GIT_COMMON_DIR: worktree.commonDir, GIT_WORK_TREE: worktree.path, ...env },
  });
}

/**
 * The changes (modified, staged, untracked) in a worktree, as `git status
 * --porcelain` lines, each repository nested in it among them.
 */
export async function uncommittedChanges(worktree: WorktreeRecord): Promise<string[]> {
  return (await readWorktree(worktree)).changes;
}

/**
 * The repositories inside a worktree, by their paths in it. No commit of the
 * worktree holds their work, so `rm --force` keeps a worktree that has one.
 */
export async function nestedRepositories(worktree: WorktreeRecord): Promise<string[]> {
  return (await readWorktree(worktree)).nested;
}

/**
 * Status never looks inside a nested repository or a submodule
 * (`--ignore-submodules=dirty`: git would run `git status` there, obeying the
 * config, attributes and filters the bottle gave it), so one whose own work
 * is not committed shows nothing: each is found apart and counted as a
 * change. Untracked ones are the directories status lists (with
 * `--untracked-files=all` it lists a directory only for a repository);
 * submodules count once their checkout has a `.git`.
 */
async function readWorktree(worktree: WorktreeRecord): Promise<{ changes: string[]; nested: string[] }> {
  if (!existsSync(worktree.path)) return { changes: [], nested: [] };
  const [status, files] = await Promise.all([
    worktreeGit(worktree, ["status", "--porcelain", "-z", "--ignore-submodules=dirty", "--untracked-files=all"]),
    worktreeGit(worktree, ["ls-files", "-z", "--stage"]),
  ]);
  if (status.code !== 0) throw unreadable(worktree, status.stderr);
  if (files.code !== 0) throw unreadable(worktree, files.stderr);
  const changes: string[] = [];
  const entries = status.stdout.split("\0");
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (!entry) continue;
    // A rename or copy is followed by the path it came from.
    if (/^[RC]/.test(entry)) i++;
    changes.push(entry);
  }
  const nested = new Set(changes.filter((e) => e.startsWith("?? ") && e.endsWith("/")).map((e) => e.slice(3, -1)));
  for (const entry of files.stdout.split("\0")) {
    if (!entry.startsWith("160000 ")) continue;
    const path = entry.slice(entry.indexOf("\t") + 1);
    if (nested.has(path) || !(await lstat(join(worktree.path, path, ".git")).catch(() => undefined))) continue;
    nested.add(path);
    if (!changes.some((e) => e.slice(3) === path)) changes.push(` S ${path}`);
  }
  return { changes, nested: [...nested] };
}

function unreadable(worktree: WorktreeRecord, stderr: string): BottleError {
  return new BottleError(ErrorCodes.INVALID_ARGUMENT, `Cannot read the state of the worktree ${worktree.path}: ${stderr.trim()}`, {
    hint: "Look at it yourself; claude-bottle leaves it as it is.",
  });
}

/** Commits every change in the worktree on its branch (hooks not run), saved by `by` (the command); returns the commit's short id. */
export async function saveChanges(worktree: WorktreeRecord, bottle: string, identity: Readonly<Record<string, string>>, by = "rm --force"): Promise<string> {
  const fail = (what: string, stderr: string) =>
    new BottleError(ErrorCodes.INVALID_ARGUMENT, `Could not ${what} in ${worktree.path}: ${stderr.trim()}`, {
      hint: "The bottle is removed, its worktree left as it is; commit there yourself.",
    });
  const added = await worktreeGit(worktree, ["add", "--all"]);
  if (added.code !== 0) throw fail("stage the changes", added.stderr);
  const message = `claude-bottle: uncommitted changes of ${bottle}, saved by ${by}`;
  const committed = await worktreeGit(worktree, ["commit", "--quiet", "--no-verify", "--no-gpg-sign", "-m", message], identity);
  if (committed.code !== 0) throw fail("commit the changes", committed.stderr || committed.stdout);
  return (await worktreeGit(worktree, ["rev-parse", "--short", "HEAD"])).stdout.trim();
}

/**
 * Removes the worktree's checkout once it holds nothing uncommitted (the
 * caller checks); the branch stays. Forced, so git does not run its own
 * status in a checkout whose `.git` file the bottle could have changed.
 */
export async function removeWorktree(worktree: WorktreeRecord): Promise<boolean> {
  const removed = await runGit(["worktree", "remove", "--force", worktree.path], { cwd: worktree.repository });
  return removed.code === 0;
}

/** What to type to bring a bottle's work into the checkout it was started from. */
export function mergeCommand(worktree: WorktreeRecord): string {
  return `git -C ${worktree.repository} merge ${worktree.branch}`;
}
