import { chmod, lstat, mkdir, mkdtemp, readdir, rename, rm, symlink, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { BottleError, ErrorCodes } from "../errors.js";
import { isProcessAlive } from "../support/process.js";
import type { PackageClosure } from "../trust/package-closure.js";
import { ApprovalStore, stateDir } from "../trust/store.js";
import { importBackend, type LoadBackendOptions, type LoadedBackend, type LocatedBackend } from "./load-backend.js";

/**
 * A project backend as it was read for its approval: the bytes in memory,
 * digested, and written as they are into the copy that is imported, so what
 * runs is what was approved even if the project's files change in between.
 */
export interface BackendSnapshot {
  /** The approval's digest (`sha256:<hex>`); it names the copy. */
  digest: string;
  /** The directory the copy mirrors: every path of the closure lies below it. */
  base: string;
  /** The module to import, relative to `base`. */
  entry: string;
  closure: PackageClosure;
}

/** $XDG_STATE_HOME/claude-bottle/backends: beside the approvals, outside every workspace. */
export function backendCopiesDir(env: LoadBackendOptions["env"]): string {
  return join(stateDir(env), "backends");
}

/**
 * Imports a project backend from its own copy of the approved snapshot, never
 * from the project: it is the only code that runs, and a name or relative
 * path it imports resolves inside the copy, which holds nothing undigested.
 * Copies no approval names any more are removed afterwards.
 */
export async function importApprovedBackend(
  located: LocatedBackend,
  snapshot: BackendSnapshot,
  options: Pick<LoadBackendOptions, "builtins" | "env">,
): Promise<LoadedBackend> {
  const root = backendCopiesDir(options.env);
  const copy = await materialize(snapshot, root);
  try {
    return await importBackend(located, { builtins: options.builtins, from: join(copy, snapshot.entry) });
  } finally {
    const approved = (await ApprovalStore.forUser(options.env).list()).filter((a) => a.subject.startsWith("backend:")).map((a) => a.digest);
    await pruneBackendCopies(root, new Set([...approved, snapshot.digest].map(copyName)));
  }
}

function copyName(digest: string): string {
  return digest.replace(/^sha256:/, "");
}

/**
 * The copy for this snapshot: made once, in a fresh directory renamed into
 * place whole, so a copy that exists is complete; read-only once made. One
 * already there holds the same bytes, since its name is their digest.
 */
export async function materialize(snapshot: BackendSnapshot, root: string): Promise<string> {
  const name = copyName(snapshot.digest);
  const target = join(root, name);
  if (await exists(target)) return target;
  await mkdir(root, { recursive: true, mode: 0o700 });
  await chmod(root, 0o700);
  // mkdtemp: created exclusively, 0700; the pid lets a later prune tell a dead start's leftover from a running one's.
  const temporary = await mkdtemp(join(root, `.${name}.${process.pid}.`));
  try {
    await writeCopy(snapshot, temporary);
    await rename(temporary, target);
  } catch (error) {
    await removeCopy(temporary);
    // Another start of the same backend got there first: its copy is this one.
    if (await exists(target)) return target;
    throw new BottleError(ErrorCodes.BACKEND_IMPORT_FAILED, `Could not copy the approved backend into ${root}: ${error instanceof Error ? error.message : String(error)}`, {
      hint: `A project backend runs from its own copy there; check that ${root} is writable and its disk has space.`,
      cause: error,
    });
  }
  return target;
}

async function writeCopy(snapshot: BackendSnapshot, dir: string): Promise<void> {
  const at = (path: string) => join(dir, relative(snapshot.base, path));
  for (const file of snapshot.closure.files) {
    await mkdir(dirname(at(file.path)), { recursive: true, mode: 0o700 });
    await writeFile(at(file.path), file.content, { flag: "wx", mode: file.executable ? 0o500 : 0o400 });
  }
  // pnpm finds a dependency through a link beside the package to its real directory; the copy keeps those links, within itself.
  for (const link of snapshot.closure.links) {
    await mkdir(dirname(at(link.path)), { recursive: true, mode: 0o700 });
    await symlink(relative(dirname(at(link.path)), at(link.target)), at(link.path));
  }
  await setModes(dir, 0o500);
}

/** Sets the mode of `dir` and every directory below it (links are not followed). */
async function setModes(dir: string, mode: number): Promise<void> {
  // Writable first, to list and change what is below; the directory itself last.
  await chmod(dir, 0o700);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) await setModes(join(dir, entry.name), mode);
  }
  await chmod(dir, mode);
}

async function removeCopy(dir: string): Promise<void> {
  if (!(await exists(dir))) return;
  await setModes(dir, 0o700);
  await rm(dir, { recursive: true, force: true });
}

/**
 * Removes the copies not in `keep` (digest hex names), and the half-made
 * copies of starts that are no longer running.
 */
export async function pruneBackendCopies(root: string, keep: ReadonlySet<string>): Promise<void> {
  for (const entry of await readdir(root).catch(() => [] as string[])) {
    const partial = /^\.[0-9a-f]{64}\.(\d+)\./.exec(entry);
    const stale = partial ? !isProcessAlive(Number(partial[1])) : /^[0-9a-f]{64}$/.test(entry) && !keep.has(entry);
    if (stale) await removeCopy(join(root, entry));
  }
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}
