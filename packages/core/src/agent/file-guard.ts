import { readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

/** A file as it was when the bottle started. */
export interface GuardedFile {
  path: string;
  /** base64 of the content; undefined when it did not exist. */
  content: string | undefined;
}

/** A guarded file the bottle changed: put back, with what the bottle wrote kept beside it for the user to read. */
export interface RestoredFile {
  path: string;
  keptAs: string;
}

/**
 * For host controls a backend cannot mount read-only (smolvm shares only
 * directories, so `.git/config` cannot be laid over): the content before the
 * bottle starts, put back when it ends. Weaker than a read-only mount, since
 * the change exists while the bottle runs: backends say so.
 */
export async function guardFiles(paths: readonly string[]): Promise<GuardedFile[]> {
  return Promise.all(
    paths.map(async (path) => ({ path, content: await readFile(path).then((b) => b.toString("base64"), () => undefined) })),
  );
}

/** Puts back every guarded file whose content changed; returns those, each with the bottle's version kept beside it. */
export async function restoreGuardedFiles(guarded: readonly GuardedFile[]): Promise<RestoredFile[]> {
  const restored: RestoredFile[] = [];
  for (const { path, content } of guarded) {
    const now = await readFile(path).then((b) => b.toString("base64"), () => undefined);
    if (now === content) continue;
    // Its directory is gone (a worktree removed meanwhile): there is nothing left to put it back into.
    if (now === undefined && !(await stat(dirname(path)).then((s) => s.isDirectory(), () => false))) continue;
    const keptAs = `${path}.changed-in-bottle`;
    if (now !== undefined) await writeFile(keptAs, Buffer.from(now, "base64"), { mode: 0o600 });
    if (content === undefined) {
      await rm(path, { force: true });
    } else {
      const temporary = `${path}.claude-bottle-restore`;
      await writeFile(temporary, Buffer.from(content, "base64"), { mode: 0o644 });
      await rename(temporary, path);
    }
    restored.push({ path, keptAs });
  }
  return restored;
}
