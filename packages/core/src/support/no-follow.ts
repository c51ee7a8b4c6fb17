import { randomBytes } from "node:crypto";
import { constants, type BigIntStats } from "node:fs";
import { lstat, mkdir, open, realpath, rename, rmdir, unlink } from "node:fs/promises";
import { parse, sep } from "node:path";

/**
 * Host-side file operations on paths a bottle can write near. A bottle may
 * plant a symbolic link wherever it can write, and a relative link resolves
 * on the host: a plain `writeFile` there writes the user's file (~/.bashrc)
 * with content the bottle chose. So nothing here follows a link at the last
 * component, new files are created exclusively under names nobody else made,
 * and writes into a directory a bottle shares check that directory first
 * (see sameDirectory).
 */

const { O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_WRONLY } = constants;

/** What a path holds, without following a link there: a regular file's bytes and mode, nothing, or something else (a link, a directory, a FIFO). */
export type FoundFile = { kind: "file"; content: Buffer; mode: number } | { kind: "missing" } | { kind: "other" };

/** Reads `path` only if it is a regular file; a link is never followed and a FIFO never blocks. */
export async function readRegularFile(path: string): Promise<FoundFile> {
  let handle;
  try {
    handle = await open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { kind: "missing" };
    // ELOOP: a link at the last component (O_NOFOLLOW).
    if (code === "ELOOP" || code === "EMLINK") return { kind: "other" };
    throw error;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) return { kind: "other" };
    return { kind: "file", content: await handle.readFile(), mode: info.mode & 0o7777 };
  } finally {
    await handle.close();
  }
}

/** Creates `path` with `content`, failing (EEXIST) if anything, a link included, is already there. */
export async function createExclusive(path: string, content: string | Uint8Array, mode: number): Promise<void> {
  const handle = await open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
  let written = false;
  try {
    await handle.writeFile(content);
    written = true;
  } finally {
    await handle.close();
    // Half a file (a full disk) is not left behind under a name someone may read.
    if (!written) await unlink(path).catch(() => {});
  }
}

/** How many plain numbered names are tried (`base`, `base.2`, …) before an unguessable one. */
const NUMBERED_NAMES = 9;

/**
 * The names tried for a new file beside what a bottle wrote: readable ones
 * first, then one the bottle cannot guess, so that links planted at every
 * numbered name cannot stop the write (and with it a restore).
 */
function* freshNames(base: string): Generator<string> {
  yield base;
  for (let n = 2; n <= NUMBERED_NAMES; n++) yield `${base}.${n}`;
  yield `${base}.${randomBytes(6).toString("hex")}`;
}

/**
 * Creates `base`, or `base.2`, `base.3`, … when a name is taken (a link the
 * bottle planted there is left alone and skipped), with `content`; returns
 * the name it used.
 */
export async function createFresh(base: string, content: string | Uint8Array, mode: number): Promise<string> {
  let taken: unknown;
  for (const path of freshNames(base)) {
    try {
      await createExclusive(path, content, mode);
      return path;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      taken = error;
    }
  }
  throw taken;
}

/** Opens `path` for appending, creating it if missing, never through a link. */
export async function openForAppend(path: string, mode: number) {
  return open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, mode);
}

/**
 * Replaces `path` atomically: the content goes to a temporary file created
 * exclusively beside it, which is renamed over `path` (rename replaces a link
 * there, never writes through it). `beforeRename` may refuse (throw) at the
 * last moment, when the directory was checked; the temporary is removed then.
 */
export async function replaceFile(path: string, content: string | Uint8Array, mode: number, beforeRename?: () => Promise<void>): Promise<void> {
  const temporary = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  await createExclusive(temporary, content, mode);
  try {
    await beforeRename?.();
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => {});
    throw error;
  }
}

/**
 * Moves whatever is at `path` (a file, a link, a directory) to a fresh name
 * from `base` and returns that name. The name is first claimed exclusively
 * (an empty file, or an empty directory for a directory), then `path` is
 * renamed over it: rename never follows a link at either end, and replaces
 * only the placeholder made here.
 */
export async function moveAside(path: string, base: string): Promise<string> {
  const isDirectory = (await lstat(path)).isDirectory();
  let taken: unknown;
  for (const aside of freshNames(base)) {
    try {
      if (isDirectory) await mkdir(aside, { mode: 0o700 });
      else await createExclusive(aside, "", 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      taken = error;
      continue;
    }
    try {
      await rename(path, aside);
      return aside;
    } catch (error) {
      await (isDirectory ? rmdir(aside) : unlink(aside)).catch(() => {});
      throw error;
    }
  }
  throw taken;
}

/** A directory as it was before a bottle could touch it: its path with every link resolved, and which directory it is. */
export interface DirectoryIdentity {
  /** The real path (no link in it). */
  path: string;
  /** `dev:ino`, as decimal strings (inode numbers may not fit a double). */
  id: string;
}

/** Where `dir` really is, and which directory it is; undefined when it is not a directory. */
export async function directoryIdentity(dir: string): Promise<DirectoryIdentity | undefined> {
  const path = await realpath(dir).catch(() => undefined);
  if (!path) return undefined;
  const info = await lstat(path, { bigint: true });
  return info.isDirectory() ? { path, id: `${info.dev}:${info.ino}` } : undefined;
}

/**
 * Whether `identity` still names the same directory, reached through real
 * directories only: every component of its real path is a directory, not a
 * link, and the last is the very directory it was. A bottle that renamed the
 * directory away and put a link there (`mv .git .git.orig; ln -s ~ .git`), or
 * a directory of its own, fails this; so does one that did that to any
 * directory above.
 */
export async function sameDirectory(identity: DirectoryIdentity): Promise<boolean> {
  const info = await realDirectoryAt(identity.path);
  return info !== undefined && `${info.dev}:${info.ino}` === identity.id;
}

/** Whether `path` is a directory reached through directories only (no link on the way, none at the end). */
export async function throughRealDirectories(path: string): Promise<boolean> {
  return (await realDirectoryAt(path)) !== undefined;
}

async function realDirectoryAt(path: string): Promise<BigIntStats | undefined> {
  const { root } = parse(path);
  let current = root;
  let info = await lstat(root, { bigint: true });
  for (const part of path.slice(root.length).split(sep).filter(Boolean)) {
    current = current === root ? `${root}${part}` : `${current}${sep}${part}`;
    const next = await lstat(current, { bigint: true }).catch(() => undefined);
    if (!next?.isDirectory()) return undefined;
    info = next;
  }
  return info;
}
