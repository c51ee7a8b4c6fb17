import { createHash } from "node:crypto";
import { readFile, readdir } from "node:fs/promises";
import { dirname, join } from "node:path";

/** A file's content digest; `absent` for a file that does not exist, so creating it changes the fingerprint too. */
export interface FileFingerprint {
  path: string;
  sha256: string;
}

export async function fingerprintFiles(paths: readonly string[]): Promise<FileFingerprint[]> {
  const unique = [...new Set(paths)].sort();
  return Promise.all(
    unique.map(async (path) => {
      const content = await readFile(path).catch(() => undefined);
      return { path, sha256: content === undefined ? "absent" : createHash("sha256").update(content).digest("hex") };
    }),
  );
}

/** Most files one backend package and its dependencies may hold before fingerprinting gives up. */
const MAX_PACKAGE_FILES = 50_000;

/**
 * Every file a backend package can run on the host: its own files and, through
 * its dependencies as Node resolves them from its directory, theirs. Nested
 * `node_modules` are reached only through dependencies, never listed whole.
 */
export async function packageClosureFiles(packageDir: string): Promise<string[]> {
  const files: string[] = [];
  const visited = new Set<string>();
  const queue = [packageDir];
  while (queue.length) {
    const dir = queue.shift()!;
    if (visited.has(dir)) continue;
    visited.add(dir);
    await listFiles(dir, files);
    if (files.length > MAX_PACKAGE_FILES) throw new Error(`${packageDir} and its dependencies hold more than ${MAX_PACKAGE_FILES} files`);
    for (const dependency of await dependencyNames(dir)) {
      const found = await findPackageDir(dependency, dir);
      if (found) queue.push(found);
    }
  }
  return files.sort();
}

async function listFiles(dir: string, into: string[]): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (entry.name === "node_modules") continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await listFiles(path, into);
    else if (entry.isFile() || entry.isSymbolicLink()) into.push(path);
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
