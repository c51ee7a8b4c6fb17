import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { lstat, readFile, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** One entry of the workspace as it is carried: a file with its bytes, or a link with its target. */
export type WorkspaceEntry =
  | { kind: "file"; path: string; content: Buffer; mode: number }
  | { kind: "symlink"; path: string; target: string };

/** What was carried in, per path: a file's sha256 or a link's target, to tell later what the bottle changed. */
export type Manifest = Record<string, string>;

export function digest(content: Buffer): string {
  return createHash("sha256").update(content).digest("hex");
}

export function manifestOf(entries: readonly WorkspaceEntry[]): Manifest {
  return Object.fromEntries(entries.map((e) => [e.path, e.kind === "file" ? digest(e.content) : `-> ${e.target}`]));
}

/** Whether `dir` is the top of a git work tree (a bottle's commits can come back to it). */
export async function isGitTop(dir: string): Promise<boolean> {
  try {
    const { stdout } = await run("git", ["-C", dir, "rev-parse", "--show-prefix"], { encoding: "utf8" });
    return stdout.trim() === "";
  } catch {
    return false;
  }
}

/**
 * The files of a repository as they are on the disk now: tracked ones with
 * their uncommitted changes, and untracked ones `.gitignore` does not exclude.
 * A tracked file deleted in the work tree stays deleted; a submodule is skipped.
 */
export async function gitWorkspaceEntries(dir: string): Promise<WorkspaceEntry[]> {
  const { stdout } = await run("git", ["-C", dir, "ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  const paths = [...new Set(stdout.split("\0").filter(Boolean))];
  const entries: WorkspaceEntry[] = [];
  for (const path of paths) {
    const entry = await entryAt(dir, path);
    if (entry) entries.push(entry);
  }
  return entries;
}

/** Every file and link under a directory that is not a repository. */
export async function plainWorkspaceEntries(dir: string): Promise<WorkspaceEntry[]> {
  const entries: WorkspaceEntry[] = [];
  const walk = async (relative: string): Promise<void> => {
    for (const name of await readdir(join(dir, relative))) {
      const path = relative ? `${relative}/${name}` : name;
      const info = await lstat(join(dir, path));
      if (info.isDirectory()) await walk(path);
      else {
        const entry = await entryAt(dir, path);
        if (entry) entries.push(entry);
      }
    }
  };
  await walk("");
  return entries;
}

async function entryAt(dir: string, path: string): Promise<WorkspaceEntry | undefined> {
  const full = join(dir, path);
  const info = await lstat(full).catch(() => undefined);
  if (!info) return undefined;
  if (info.isSymbolicLink()) return { kind: "symlink", path, target: await readlink(full) };
  if (!info.isFile()) return undefined;
  return { kind: "file", path, content: await readFile(full), mode: info.mode & 0o777 };
}
