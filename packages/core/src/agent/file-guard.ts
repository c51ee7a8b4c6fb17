import { lstat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { BottleError, ErrorCodes } from "../errors.js";
import {
  createFresh,
  directoryIdentity,
  moveAside,
  readRegularFile,
  replaceFile,
  sameDirectory,
  type DirectoryIdentity,
} from "../support/no-follow.js";

/** A file as it was when the bottle started. */
export interface GuardedFile {
  path: string;
  /** base64 of the content; undefined when it did not exist. */
  content: string | undefined;
  /** Its permission bits, to put back with the content. */
  mode?: number;
  /** The directory holding it, as it was then; undefined when there was none. */
  dir?: DirectoryIdentity;
}

/** A guarded file the bottle changed: put back, with what the bottle left there kept beside it for the user to read. */
export interface RestoredFile {
  path: string;
  /** The bottle's version (a copy, or the link or directory it put there, moved aside); undefined when it only removed the file. */
  keptAs?: string;
  /** Why the file was not put back (its directory is no longer the one it was); undefined when it was. */
  notRestored?: string;
}

/**
 * For host controls a backend cannot mount read-only (smolvm shares only
 * directories, so `.git/config` cannot be laid over): the content before the
 * bottle starts, put back when it ends. Weaker than a read-only mount, since
 * the change exists while the bottle runs: backends say so. Each file's
 * directory is recorded as it is now, so the restore writes into that very
 * directory or nowhere (see restoreGuardedFiles).
 */
export async function guardFiles(paths: readonly string[]): Promise<GuardedFile[]> {
  return Promise.all(
    paths.map(async (path) => {
      const dir = await directoryIdentity(dirname(path));
      const found = await readRegularFile(path);
      if (found.kind === "other") {
        throw new BottleError(ErrorCodes.WORKSPACE_UNSAFE, `${path} is not a plain file; a bottle could use it to change what runs on the host.`, {
          hint: "Replace it with a real file (a symbolic link there is refused), then start again.",
        });
      }
      return {
        path,
        content: found.kind === "file" ? found.content.toString("base64") : undefined,
        ...(found.kind === "file" ? { mode: found.mode } : {}),
        ...(dir ? { dir } : {}),
      };
    }),
  );
}

/**
 * Puts back every guarded file whose content changed; returns those, each
 * with the bottle's version kept beside it. The bottle could write all
 * around these files, so nothing here follows a link: the current file is
 * read only if it is a regular one, the bottle's version is copied to a
 * fresh name created exclusively (or, a link or directory, moved aside), and
 * the original goes to an exclusively created temporary renamed over the
 * path, each step only while the directory is still the one recorded at
 * start, reached through real directories (a `.git` renamed away and
 * replaced by a link to the user's home is not written through).
 */
export async function restoreGuardedFiles(guarded: readonly GuardedFile[]): Promise<RestoredFile[]> {
  const restored: RestoredFile[] = [];
  for (const file of guarded) {
    const outcome = await restoreOne(file).catch((error: Error) => ({ path: file.path, notRestored: error.message }));
    if (outcome) restored.push(outcome);
  }
  return restored;
}

async function restoreOne({ path, content, mode, dir }: GuardedFile): Promise<RestoredFile | undefined> {
  // No directory then, or none at all now (a worktree removed meanwhile): there is nothing to put it back into.
  if (!dir || !(await lstat(dir.path).catch(() => undefined))) return undefined;
  const replaced = `${dir.path} is no longer the directory it was when the bottle started`;
  if (!(await sameDirectory(dir))) return { path, notRestored: replaced };
  const real = join(dir.path, basename(path));
  const original = content === undefined ? undefined : Buffer.from(content, "base64");
  const now = await readRegularFile(real);
  if (now.kind === "file" && original?.equals(now.content)) return undefined;
  if (now.kind === "missing" && original === undefined) return undefined;

  const keptBase = `${real}.changed-in-bottle`;
  const kept =
    now.kind === "file" ? await createFresh(keptBase, now.content, 0o600) : now.kind === "other" ? await moveAside(real, keptBase) : undefined;
  if (original === undefined) {
    // unlink removes a link the bottle may have swapped in since, never its target.
    await unlink(real).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") throw error;
    });
  } else {
    await replaceFile(real, original, mode ?? 0o644, async () => {
      if (!(await sameDirectory(dir))) throw new Error(replaced);
    });
  }
  // Named as the caller named the file (the real path may differ: /var is /private/var on macOS).
  return { path, ...(kept ? { keptAs: join(dirname(path), basename(kept)) } : {}) };
}
