import type { Dirent, Stats } from "node:fs";
import { constants, readdirSync } from "node:fs";
import { lstat, open, readdir, realpath, rename } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";

/**
 * Where a bottle could have written git directories, and the files in them
 * it could not write (the host controls, laid read-only over it): recorded
 * at start, so its end is checked against them.
 */
export interface GitWatch {
  /** Directories the bottle writes: its workspace and, for a worktree, the repository's git directory. */
  roots: string[];
  /** The host controls under them, which only the user can have changed. */
  controls: string[];
}

/** A git directory some of whose files the bottle wrote, and where each went. */
export interface Quarantined {
  gitDir: string;
  moved: { from: string; to: string }[];
}

/** What a bottle's writes become: the name git reads, with this after it. */
export const SUFFIX = ".bottle-written";

/**
 * Before the change times are compared: file systems keep them in coarse
 * ticks, so a write just after `since` may read as just before it. A user's
 * own change that close to the start is moved aside too, and told of.
 */
const CLOCK_SLACK_MS = 2000;

/** Enough for any real checkout; past it the check stops and says so, rather than hold the user's terminal. */
const MAX_DIRECTORIES = 200_000;

/**
 * Moves aside the files of each git directory under the roots that a bottle
 * wrote (changed since `since`) and through which git would run a program or
 * follow the bottle elsewhere: `config` and `config.worktree` (filters,
 * fsmonitor, hooksPath, includes), `commondir` (a config elsewhere), `hooks`
 * and `info/attributes` (the filters a config names). A repository the
 * bottle nested in the workspace, a submodule's git directory it made in
 * `.git/modules`, or one it changed: otherwise the user's next `git status`
 * there, or above it, runs what the bottle wrote. Each file keeps its
 * content, renamed with SUFFIX; git works on without it.
 *
 * The change time is the kernel's, set on every write and rename, which no
 * process can set back. Nothing is followed: directories are walked as they
 * are (lstat), a `.git` file or link is read only for where it points, and a
 * rename moves a link itself, never what it names.
 */
export async function quarantineBottleGit(watch: GitWatch, since: Date): Promise<{ quarantined: Quarantined[]; complete: boolean }> {
  const after = since.getTime() - CLOCK_SLACK_MS;
  const controls = new Set(await Promise.all(watch.controls.map((control) => realpath(control).catch(() => control))));
  const roots = (await Promise.all(watch.roots.map((root) => realpath(root).catch(() => undefined)))).filter((root): root is string => !!root);
  const quarantined: Quarantined[] = [];
  const seen = new Set<string>();
  const pending = [...roots];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    if (seen.has(dir)) continue;
    seen.add(dir);
    if (seen.size > MAX_DIRECTORIES) return { quarantined, complete: false };
    const entries = listDirectory(dir);
    const gitDir = isGitDirectory(entries);
    if (gitDir) {
      const moved = await moveWritten(dir, after, controls);
      if (moved.length > 0) quarantined.push({ gitDir: dir, moved });
    }
    for (const entry of entries) {
      // A git directory's objects (and git-lfs's) are many, and none is read as a program.
      if (gitDir && (entry.name === "objects" || entry.name === "lfs")) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) pending.push(path);
      // Where a `.git` file or link sends git may be a directory no walk reaches (in a git directory's objects): look there too.
      else if (entry.name === ".git") {
        const target = await pointedGitDir(path, entry);
        if (target && roots.some((root) => isInside(target, root))) pending.push(target);
      }
    }
  }
  return { quarantined, complete: true };
}

/**
 * A directory's entries, read synchronously: over a large checkout that is
 * twice as fast as the promise API (no thread pool between the reads), and
 * nothing else runs while a bottle's end is settled.
 */
function listDirectory(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

/** As git tells one: a HEAD, with objects and refs of its own or a `commondir` naming them. */
function isGitDirectory(entries: readonly Dirent[]): boolean {
  const has = (name: string) => entries.some((e) => e.name === name);
  return has("HEAD") && ((has("objects") && has("refs")) || has("commondir"));
}

async function moveWritten(gitDir: string, after: number, controls: ReadonlySet<string>): Promise<{ from: string; to: string }[]> {
  const written = async (path: string, info: Stats): Promise<boolean> => {
    if (info.ctimeMs >= after) return true;
    // A hook rewritten in place changes only its own time; a hook may call one beside it.
    if (!info.isDirectory()) return false;
    for (const entry of await readdir(path).catch(() => [])) {
      const inner = await lstat(join(path, entry)).catch(() => undefined);
      if (inner && (await written(join(path, entry), inner))) return true;
    }
    return false;
  };
  const candidates = ["config", "config.worktree", "commondir", "hooks"].map((name) => join(gitDir, name));
  const info = await lstat(join(gitDir, "info")).catch(() => undefined);
  // A real info directory keeps its exclude list; only the attributes name filters. Anything else there is the bottle's.
  candidates.push(info?.isDirectory() ? join(gitDir, "info", "attributes") : join(gitDir, "info"));
  const moved: { from: string; to: string }[] = [];
  for (const path of candidates) {
    if (controls.has(path)) continue;
    const found = await lstat(path).catch(() => undefined);
    if (!found || !(await written(path, found)) || (await harmless(gitDir, path, found))) continue;
    const to = await freeName(`${path}${SUFFIX}`);
    await rename(path, to);
    moved.push({ from: path, to });
  }
  return moved;
}

/**
 * The files git itself writes for a linked worktree made while the bottle
 * ran (by the user, or for another bottle): a `commondir` naming the
 * repository the worktree lies in (`../..`), and claude-bottle's empty
 * `config.worktree`. They can make git do nothing, and moving them would
 * break that worktree; anything else in those names is moved.
 */
async function harmless(gitDir: string, path: string, info: Stats): Promise<boolean> {
  if (!info.isFile()) return false;
  if (path === join(gitDir, "config.worktree")) return info.size === 0;
  if (path !== join(gitDir, "commondir")) return false;
  const named = resolve(gitDir, (await readHead(path)).trim());
  return named === gitDir || (named === dirname(dirname(gitDir)) && basename(dirname(gitDir)) === "worktrees");
}

/** `name`, or `name.2`, `name.3`… when a bottle wrote one at an earlier end. */
async function freeName(name: string): Promise<string> {
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? name : `${name}.${n}`;
    if (!(await lstat(candidate).catch(() => undefined))) return candidate;
  }
}

/** The directory a `.git` file (`gitdir: PATH`) or link names, resolved. */
async function pointedGitDir(path: string, entry: Dirent): Promise<string | undefined> {
  if (entry.isSymbolicLink()) return realpath(path).catch(() => undefined);
  if (!entry.isFile()) return undefined;
  const match = /^gitdir:\s*(.+?)\s*$/m.exec(await readHead(path));
  if (!match?.[1]) return undefined;
  return realpath(isAbsolute(match[1]) ? match[1] : resolve(path, "..", match[1])).catch(() => undefined);
}

/** The start of a file, as git reads a `.git` file: a bottle's could be any size. */
async function readHead(path: string): Promise<string> {
  const file = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
  if (!file) return "";
  try {
    const { buffer, bytesRead } = await file.read({ buffer: Buffer.alloc(4096) });
    return buffer.subarray(0, bytesRead).toString("utf8");
  } catch {
    return "";
  } finally {
    await file.close();
  }
}

function isInside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/** What to tell the user of a quarantine: one line for each git directory, and one if the look was cut short. */
export function quarantineReport(bottle: string, watch: GitWatch, result: { quarantined: Quarantined[]; complete: boolean }): string[] {
  const lines = result.quarantined.map(
    ({ gitDir, moved }) =>
      `${bottle} wrote git files in ${gitDir}; moved aside as ${moved.map((m) => basename(m.to)).join(", ")}, so git there obeys none of them. Read them before you put any back.`,
  );
  if (!result.complete) {
    lines.push(`${bottle} left more than ${MAX_DIRECTORIES} directories; claude-bottle stopped looking for git files it wrote. Check the git directories in ${watch.roots.join(", ")} before you run git there.`);
  }
  return lines;
}
