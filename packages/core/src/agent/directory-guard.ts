import { lstat, readdir, rename } from "node:fs/promises";
import { basename, dirname, join, relative, sep } from "node:path";
import { directoryIdentity, moveAside, sameDirectory, throughRealDirectories, type DirectoryIdentity } from "../support/no-follow.js";

/** A directory the host obeys (`.git`, `.claude-bottle`, `.git/worktrees/<id>`), as it was when the bottle started. */
export interface GuardedDirectory {
  path: string;
  identity: DirectoryIdentity;
}

/** A guarded directory the bottle moved or replaced, and what was done about it. */
export interface RecoveredDirectory {
  path: string;
  /** Where what the bottle put in its place was moved; undefined when it left nothing there. */
  quarantined?: string;
  /** Where the original was found and brought back from; undefined when it was not found (then the path is left empty). */
  restoredFrom?: string;
  /** Set when nothing could be done safely (a link on the way to it): the reason. */
  leftAlone?: string;
}

/**
 * For backends that cannot pin these directories for sure (smolvm shares
 * each as its own mount, but root in the guest may unmount it): which
 * directory each is before the bottle starts, to be checked when it ends
 * (see recoverGuardedDirectories). Shallowest first, so that `.git` is
 * recovered before what lies in it.
 */
export async function guardDirectories(paths: readonly string[]): Promise<GuardedDirectory[]> {
  const guarded: GuardedDirectory[] = [];
  for (const path of [...new Set(paths)].sort((a, b) => depth(a) - depth(b))) {
    const identity = await directoryIdentity(path);
    if (identity) guarded.push({ path, identity });
  }
  return guarded;
}

/** How far below its parent a search for a moved directory looks: `mv .git .git.orig`, `mv .git tmp/x`. */
const SEARCH_DEPTH = 2;
/** And how many entries it reads at most, so that a workspace full of files does not hold up the end of a bottle. */
const SEARCH_ENTRIES = 20_000;

/**
 * A bottle that moved a guarded directory away and put its own in its place
 * (`mv .git .git.orig && mkdir .git`, a file, a link, a copy) would have the
 * host obey what it made. For each directory that is no longer the one it
 * was: what stands there is moved aside to `<path>.from-bottle` (never
 * opened, never given to git), and the original, if it is still near (the
 * same device and inode under the parent), is renamed back. The caller tells
 * the user. Nothing is touched through a link.
 */
export async function recoverGuardedDirectories(guarded: readonly GuardedDirectory[]): Promise<RecoveredDirectory[]> {
  const recovered: RecoveredDirectory[] = [];
  // Directories not brought back: what lay inside them is reported with them, not again.
  const lost: string[] = [];
  for (const { path, identity } of guarded) {
    if (lost.some((dir) => identity.path.startsWith(`${dir}${sep}`))) continue;
    if (await sameDirectory(identity)) continue;
    const parent = dirname(identity.path);
    if (!(await throughRealDirectories(parent))) {
      lost.push(identity.path);
      recovered.push({ path, leftAlone: `${parent} is no longer a plain directory` });
      continue;
    }
    try {
      const there = await lstat(identity.path).catch(() => undefined);
      const quarantined = there ? await moveAside(identity.path, `${identity.path}.from-bottle`) : undefined;
      const original = await findDirectory(parent, identity.id);
      if (original) await rename(original, identity.path);
      else lost.push(identity.path);
      recovered.push({
        path,
        // Named from the path the caller gave (the real one may differ: /var is /private/var on macOS).
        ...(quarantined ? { quarantined: join(dirname(path), basename(quarantined)) } : {}),
        ...(original ? { restoredFrom: join(dirname(path), relative(parent, original)) } : {}),
      });
    } catch (error) {
      lost.push(identity.path);
      recovered.push({ path, leftAlone: (error as Error).message });
    }
  }
  return recovered;
}

/** A directory with this `dev:ino` under `dir` (not following links), breadth first. */
async function findDirectory(dir: string, id: string): Promise<string | undefined> {
  let level = [dir];
  let read = 0;
  for (let d = 0; d < SEARCH_DEPTH && level.length > 0; d++) {
    const next: string[] = [];
    for (const current of level) {
      const entries = await readdir(current, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        if (++read > SEARCH_ENTRIES) return undefined;
        if (!entry.isDirectory()) continue;
        const path = join(current, entry.name);
        const info = await lstat(path, { bigint: true }).catch(() => undefined);
        if (info?.isDirectory() && `${info.dev}:${info.ino}` === id) return path;
        next.push(path);
      }
    }
    level = next;
  }
  return undefined;
}

function depth(path: string): number {
  return path.split(sep).filter(Boolean).length;
}
