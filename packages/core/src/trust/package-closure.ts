import { createHash } from "node:crypto";
import { lstat, readFile, readdir, realpath, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { isInside } from "../agent/host-paths.js";
import { BottleError, ErrorCodes } from "../errors.js";

/** One file of a backend's closure, read once: these bytes are both what is digested and what is copied. */
export interface ClosureFile {
  /** Where it was read, under the real path of its package. */
  path: string;
  content: Buffer;
  sha256: string;
  /** Its owner may run it (a script the backend spawns): the copy keeps that, and the digest covers it. */
  executable: boolean;
}

/** A `node_modules/<name>` symlink a dependency was found through (pnpm's layout), and the real directory it names. */
export interface ClosureLink {
  path: string;
  target: string;
}

/**
 * Everything a backend package can load by a relative path or by a package
 * name once it runs from its copy: its own files and, through the
 * dependencies it declares as Node resolves them from its directory, theirs,
 * with the links that make those names resolve. A package it does not declare
 * is not part of it, and so not in the copy, and not loadable from it.
 */
export interface PackageClosure {
  files: ClosureFile[];
  links: ClosureLink[];
}

/** Most files and bytes one backend and its dependencies may hold: all of it is read into memory. */
const MAX_FILES = 50_000;
const MAX_BYTES = 512 * 1024 * 1024;

/**
 * Reads a backend package's closure (see PackageClosure). Nested
 * `node_modules` are reached only through declared dependencies, never
 * listed whole.
 */
export async function readPackageClosure(packageDir: string): Promise<PackageClosure> {
  const closure: PackageClosure = { files: [], links: [] };
  const budget: Budget = { files: 0, bytes: 0, root: packageDir };
  const visited = new Set<string>();
  const queue = [await realpath(packageDir)];
  while (queue.length) {
    const dir = queue.shift()!;
    if (visited.has(dir)) continue;
    visited.add(dir);
    await readTree(dir, closure.files, new Set([dir]), budget);
    for (const dependency of await dependencyNames(dir)) {
      const found = await findPackageDir(dependency, dir);
      if (!found) continue;
      const real = await realpath(found);
      if (real !== found && !closure.links.some((l) => l.path === found)) closure.links.push({ path: found, target: real });
      queue.push(real);
    }
  }
  closure.files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  closure.links.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return closure;
}

/**
 * A lone module's closure: the file itself and the package.json beside it,
 * which says whether a `.js` file is an ES module. It declares no
 * dependencies, so from its copy it loads only Node's built-ins.
 */
export async function readModuleClosure(entry: string, manifest: string): Promise<PackageClosure> {
  const files: ClosureFile[] = [];
  const budget = { files: 0, bytes: 0, root: entry };
  await readClosureFile(entry, files, budget);
  if (await stat(manifest).then((info) => info.isFile(), () => false)) await readClosureFile(manifest, files, budget);
  return { files, links: [] };
}

interface Budget {
  files: number;
  bytes: number;
  /** What is being read, for the error. */
  root: string;
}

/** Reads one file into the closure, counting it against the limits. */
async function readClosureFile(path: string, into: ClosureFile[], budget: Budget): Promise<void> {
  const content = await readFile(path);
  const { mode } = await stat(path);
  budget.files += 1;
  budget.bytes += content.length;
  if (budget.files > MAX_FILES || budget.bytes > MAX_BYTES) {
    throw new BottleError(ErrorCodes.BACKEND_INVALID, `${budget.root} and its dependencies hold more than ${MAX_FILES} files or ${MAX_BYTES / 1024 / 1024} MiB.`, {
      hint: "A backend is digested and copied whole before it runs: install a leaner build of it, or install it beside claude-bottle instead of in the project.",
    });
  }
  into.push({ path, content, sha256: createHash("sha256").update(content).digest("hex"), executable: (mode & 0o100) !== 0 });
}

/**
 * A package's files, `node_modules` aside. A symlink inside the package is
 * followed and read as what it points to (a directory once, against cycles),
 * so its content is digested and copied like any other file.
 */
async function readTree(dir: string, into: ClosureFile[], seen: Set<string>, budget: Budget): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules") continue;
    const path = join(dir, entry.name);
    const info = entry.isSymbolicLink() ? await stat(path).catch(() => undefined) : await lstat(path);
    if (!info) continue; // A dangling link loads nothing.
    if (info.isDirectory()) {
      const real = await realpath(path);
      if (seen.has(real)) continue;
      await readTree(path, into, new Set([...seen, real]), budget);
    } else if (info.isFile()) {
      await readClosureFile(path, into, budget);
    }
  }
}

async function dependencyNames(packageDir: string): Promise<string[]> {
  try {
    const manifest = JSON.parse(await readFile(join(packageDir, "package.json"), "utf8")) as Record<string, unknown>;
    const names = ["dependencies", "optionalDependencies", "peerDependencies"].flatMap((field) =>
      typeof manifest[field] === "object" && manifest[field] !== null ? Object.keys(manifest[field] as object) : [],
    );
    return [...new Set(names)];
  } catch {
    return [];
  }
}

/** The directory Node would load `name` from, for a module in `fromDir`. */
async function findPackageDir(name: string, fromDir: string): Promise<string | undefined> {
  let dir = fromDir;
  for (;;) {
    const candidate = join(dir, "node_modules", name);
    if (await readFile(join(candidate, "package.json")).then(() => true, () => false)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * The directory the copy mirrors the tree below: the parent of the deepest
 * one holding every path of the closure, so that the copy's paths (and the
 * stack traces through them) still name the package.
 */
export function closureBase(closure: PackageClosure): string {
  const paths = [...closure.files.map((f) => dirname(f.path)), ...closure.links.flatMap((l) => [dirname(l.path), l.target])];
  let common = paths[0] ?? "/";
  for (const path of paths) {
    while (!isInside(path, common)) common = dirname(common);
  }
  return dirname(common);
}
