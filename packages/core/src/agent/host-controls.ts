import { randomBytes } from "node:crypto";
import { link, lstat, mkdir, readFile, readdir, unlink } from "node:fs/promises";
import { dirname, isAbsolute, join, posix, relative, resolve, sep } from "node:path";
import { BottleError, ErrorCodes } from "../errors.js";
import { createExclusive } from "../support/no-follow.js";
import { realPath } from "./host-paths.js";

/**
 * A path in or beside the workspace whose content the host obeys: agent files
 * claude-bottle reads, git hooks and git config that git runs on the host.
 * Every bottle sees these read-only, so nothing it writes changes what runs on
 * the host (SECURITY.md, point 1).
 */
export interface HostControl {
  /** Absolute host path. */
  source: string;
  kind: "directory" | "file";
}

/** A read-only bind a backend lays over a host control wherever a mount of the bottle exposes it. */
export interface ReadOnlyOverlay {
  source: string;
  target: string;
  kind: HostControl["kind"];
}

/**
 * Where each host control shows up inside the bottle: under the workspace,
 * and under any extra mount whose source holds it (a mount of `./.git` at
 * `/gitdir` exposes the hooks as `/gitdir/hooks`). Each is to be mounted
 * read-only on top of the mount that exposes it.
 */
export function readOnlyOverlays(controls: readonly HostControl[], mounts: readonly { source: string; target: string }[]): ReadOnlyOverlay[] {
  const overlays: ReadOnlyOverlay[] = [];
  for (const mount of mounts) {
    const source = realPath(mount.source);
    for (const control of controls) {
      const rel = relative(source, realPath(control.source));
      if (rel.startsWith("..") || isAbsolute(rel)) continue;
      const target = rel === "" ? mount.target : posix.join(mount.target, ...rel.split(sep));
      // Nested mounts of one repository (a worktree's git directory inside the shared one) expose a control twice at one place.
      if (!overlays.some((o) => o.target === target)) overlays.push({ source: control.source, target, kind: control.kind });
    }
  }
  return overlays;
}

/** A directory laid over itself, read-write as the mount that exposes it, so that it cannot be renamed or replaced. */
export interface PinnedDirectory {
  source: string;
  target: string;
  readOnly: boolean;
}

/**
 * Every directory between a mount and a read-only overlay on it (`.git`
 * between the workspace and `.git/config`; `.git/worktrees/<id>` above its
 * `gitdir`). The overlays keep those files, but their parents are the
 * bottle's to rename: `mv .git .git.orig && mkdir .git` would leave the host a
 * git directory the bottle wrote, config and hooks included. A mountpoint
 * cannot be renamed or removed (EBUSY), and the bottle has no capability to
 * unmount it, so each such directory is bound over itself, with the
 * writability of the mount it lies in (git still writes `index.lock` there).
 * Mounted parents first, as engines do, they lie below the overlays.
 */
export function pinnedDirectories(
  overlays: readonly ReadOnlyOverlay[],
  mounts: readonly { source: string; target: string; readOnly?: boolean }[],
): PinnedDirectory[] {
  const pins: PinnedDirectory[] = [];
  const mountTargets = new Set(mounts.map((m) => posix.normalize(m.target)));
  for (const overlay of overlays) {
    // The mount a path inside the bottle belongs to is the deepest one above it.
    const enclosing = mounts
      .filter((m) => isBelow(overlay.target, posix.normalize(m.target)))
      .sort((a, b) => b.target.length - a.target.length)[0];
    if (!enclosing) continue;
    const top = posix.normalize(enclosing.target);
    for (let dir = posix.dirname(overlay.target); isBelow(dir, top) && !mountTargets.has(dir); dir = posix.dirname(dir)) {
      if (pins.some((p) => p.target === dir)) continue;
      const source = join(realPath(enclosing.source), ...posix.relative(top, dir).split("/"));
      pins.push({ source, target: dir, readOnly: enclosing.readOnly ?? false });
    }
  }
  return pins;
}

/** Whether `path` lies strictly inside `dir` (both POSIX paths in the bottle). */
function isBelow(path: string, dir: string): boolean {
  return path !== dir && path.startsWith(dir === "/" ? "/" : `${dir}/`);
}

/** How deep submodules' git directories (`.git/modules/a/modules/b`) are followed. */
const MAX_SUBMODULE_DEPTH = 4;

/**
 * The host controls of `workspace`, making the two directories a bottle could
 * otherwise create (`.claude-bottle/` and `.git/hooks/`, empty) so there is
 * something to mount read-only over them. For a workspace whose `.git` is a
 * file (a worktree or a submodule checkout), the config and hooks of the git
 * directory it names and of its common directory are listed too: they lie
 * outside the workspace, and are protected wherever a mount exposes them.
 */
export async function prepareHostControls(workspace: string): Promise<HostControl[]> {
  const controls: HostControl[] = [];
  const add = (source: string, kind: HostControl["kind"]) => {
    if (!controls.some((c) => c.source === source)) controls.push({ source, kind });
  };

  const agentsDir = join(workspace, ".claude-bottle");
  await ensureDirectory(agentsDir);
  add(agentsDir, "directory");

  const dotGit = join(workspace, ".git");
  const info = await lstat(dotGit).catch(() => undefined);
  if (info?.isDirectory()) {
    await addGitDirectory(dotGit, add, 0);
  } else if (info?.isFile()) {
    // The file itself says where the repository is: rewritten, it would send the host's git to a directory the bottle made.
    add(dotGit, "file");
    const gitDir = await gitDirOf(dotGit);
    if (gitDir) {
      const common = await commonDirOf(gitDir);
      if (common !== gitDir) {
        await ensureOwnCommonDir(common);
        add(join(common, "commondir"), "file");
      }
      for (const dir of new Set([gitDir, common])) {
        for (const name of ["config", "config.worktree"]) {
          if ((await lstat(join(dir, name)).catch(() => undefined))?.isFile()) add(join(dir, name), "file");
        }
      }
      await addWorktreePointers(gitDir === common ? [] : [gitDir], add);
      await addWorktreePointers(await linkedWorktreeDirs(common), add);
      if ((await lstat(join(common, "hooks")).catch(() => undefined))?.isDirectory()) add(join(common, "hooks"), "directory");
    }
  } else if (info?.isSymbolicLink()) {
    throw unsafe(dotGit, "directory or file");
  }
  return controls;
}

async function addGitDirectory(
  gitDir: string,
  add: (source: string, kind: HostControl["kind"]) => void,
  depth: number,
): Promise<void> {
  await ensureDirectory(join(gitDir, "hooks"));
  add(join(gitDir, "hooks"), "directory");
  await ensureOwnCommonDir(gitDir);
  for (const name of ["config", "config.worktree", "commondir"]) {
    const file = join(gitDir, name);
    const info = await lstat(file).catch(() => undefined);
    if (info?.isSymbolicLink()) throw unsafe(file, "file");
    if (info?.isFile()) add(file, "file");
  }
  await addWorktreePointers(await linkedWorktreeDirs(gitDir), add);
  if (depth >= MAX_SUBMODULE_DEPTH) return;
  // Submodules keep whole git directories here, hooks and config included.
  for (const module of await listSubmoduleGitDirs(join(gitDir, "modules"))) {
    await addGitDirectory(module, add, depth + 1);
  }
}

/** The git directories of a repository's linked worktrees (`.git/worktrees/<id>`). */
async function linkedWorktreeDirs(commonDir: string): Promise<string[]> {
  const entries = await readdir(join(commonDir, "worktrees"), { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory()).map((e) => join(commonDir, "worktrees", e.name));
}

/**
 * A linked worktree's `commondir` and `gitdir` say where its repository and
 * checkout are, and its `config.worktree` is git config: rewritten, they would
 * point the host's git in that worktree at a directory the bottle made.
 */
async function addWorktreePointers(dirs: readonly string[], add: (source: string, kind: HostControl["kind"]) => void): Promise<void> {
  for (const dir of dirs) {
    for (const name of ["commondir", "gitdir", "config.worktree"]) {
      const file = join(dir, name);
      const info = await lstat(file).catch(() => undefined);
      if (info?.isSymbolicLink()) throw unsafe(file, "file");
      if (info?.isFile()) add(file, "file");
    }
  }
}

/** Submodule git directories under `.git/modules`, which may nest (`modules/lib/sub`). */
async function listSubmoduleGitDirs(modulesDir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    if (entries.some((e) => e.name === "HEAD" && e.isFile())) {
      found.push(dir);
      return;
    }
    if (depth >= MAX_SUBMODULE_DEPTH) return;
    for (const entry of entries) if (entry.isDirectory()) await walk(join(dir, entry.name), depth + 1);
  };
  await walk(modulesDir, 0);
  return found;
}

/** A directory the bottle must not be able to create: made empty, as the user, when missing. */
async function ensureDirectory(dir: string): Promise<void> {
  const info = await lstat(dir).catch(() => undefined);
  if (info?.isDirectory()) return;
  if (info) throw unsafe(dir, "directory");
  await mkdir(dir, { mode: 0o755 }).catch(async (error: NodeJS.ErrnoException) => {
    // Another bottle starting on the same workspace made it first: fine, if it is a directory.
    if (error.code !== "EEXIST" || !(await lstat(dir)).isDirectory()) throw error.code === "EEXIST" ? unsafe(dir, "directory") : error;
  });
}

/**
 * git reads `commondir` in any git directory, a main repository's too, and
 * takes config and hooks from where it points: a bottle that could create one
 * would send the host's git to a repository it made (its core.fsmonitor runs
 * at the next `git status`). A main repository has none, so one is made that
 * names the directory itself (`.`, which git reads as no change at all) to be
 * laid read-only like the config. One naming anything else was not made by
 * git for this repository: the workspace is refused.
 */
async function ensureOwnCommonDir(gitDir: string): Promise<void> {
  const file = join(gitDir, "commondir");
  const info = await lstat(file).catch(() => undefined);
  if (info?.isFile()) {
    const target = (await readFile(file, "utf8")).trim();
    if (target === "." || resolve(gitDir, target) === resolve(gitDir)) return;
    throw new BottleError(ErrorCodes.WORKSPACE_UNSAFE, `${file} sends git to ${target}: a repository's own git directory has no such file, so it may have been planted to run code on this machine.`, {
      hint: `Look at it, and at the config of ${resolve(gitDir, target)}; if you did not put it there, remove it (rm ${file}) before running git or claude-bottle here.`,
    });
  }
  if (info) throw unsafe(file, "file");
  // Written whole under a name of its own, then linked into place (which never replaces): a git running meanwhile
  // (another bottle's `worktree add`) never reads it empty, which it dies on.
  const temporary = `${file}.claude-bottle-${randomBytes(4).toString("hex")}`;
  await createExclusive(temporary, ".\n", 0o644);
  try {
    await link(temporary, file).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error;
    });
  } finally {
    await unlink(temporary).catch(() => {});
  }
}

/** `gitdir: PATH` of a `.git` file, made absolute. */
async function gitDirOf(dotGitFile: string): Promise<string | undefined> {
  const match = /^gitdir:\s*(.+?)\s*$/m.exec(await readFile(dotGitFile, "utf8").catch(() => ""));
  if (!match) return undefined;
  return isAbsolute(match[1]!) ? match[1]! : resolve(dirname(dotGitFile), match[1]!);
}

/** A linked worktree's git directory names the shared one in `commondir`; otherwise it is its own. */
async function commonDirOf(gitDir: string): Promise<string> {
  const common = (await readFile(join(gitDir, "commondir"), "utf8").catch(() => "")).trim();
  if (!common) return gitDir;
  return isAbsolute(common) ? common : resolve(gitDir, common);
}

function unsafe(path: string, expected: string): BottleError {
  return new BottleError(ErrorCodes.WORKSPACE_UNSAFE, `${path} is not a plain ${expected}; a bottle could use it to change what runs on the host.`, {
    hint: `Replace it with a real ${expected} (a symbolic link there is refused), then start again.`,
  });
}
