import { readFile, stat } from "node:fs/promises";
import { dirname, isAbsolute, join, resolve } from "node:path";

/**
 * Finds the ESM entry file of `specifier` as Node would import it from a file
 * in `fromDir`: walk up the `node_modules` folders, then read the package's
 * `exports` (conditions import, node, default) or `module`/`main`.
 * Written out because Node 20's resolvers cannot take a parent directory for
 * ESM-only packages (require.resolve ignores the `import` condition).
 */
export async function resolvePackageEntry(specifier: string, fromDir: string): Promise<string | undefined> {
  const { name, subpath } = splitSpecifier(specifier);
  let dir = resolve(fromDir);
  for (;;) {
    const packageDir = join(dir, "node_modules", name);
    const manifest = await readManifest(packageDir);
    if (manifest) return entryOf(packageDir, manifest, subpath);
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** A path (absolute, or relative to `fromDir`) to a package directory or a module file. */
export async function resolvePathEntry(path: string, fromDir: string): Promise<string | undefined> {
  const target = isAbsolute(path) ? path : resolve(fromDir, path);
  const info = await stat(target).catch(() => undefined);
  if (!info) return undefined;
  if (info.isFile()) return target;
  const manifest = await readManifest(target);
  return manifest ? entryOf(target, manifest, ".") : undefined;
}

export function isPathSpecifier(specifier: string): boolean {
  return specifier.startsWith(".") || isAbsolute(specifier) || specifier.startsWith("~");
}

function splitSpecifier(specifier: string): { name: string; subpath: string } {
  const parts = specifier.split("/");
  const nameLength = specifier.startsWith("@") ? 2 : 1;
  const name = parts.slice(0, nameLength).join("/");
  const rest = parts.slice(nameLength).join("/");
  return { name, subpath: rest ? `./${rest}` : "." };
}

interface Manifest {
  exports?: unknown;
  module?: string;
  main?: string;
}

async function readManifest(packageDir: string): Promise<Manifest | undefined> {
  try {
    return JSON.parse(await readFile(join(packageDir, "package.json"), "utf8")) as Manifest;
  } catch {
    return undefined;
  }
}

const CONDITIONS = ["import", "node", "default"];

function entryOf(packageDir: string, manifest: Manifest, subpath: string): string | undefined {
  if (manifest.exports !== undefined) {
    const exportsMap = manifest.exports;
    const isSubpathMap =
      typeof exportsMap === "object" && exportsMap !== null && Object.keys(exportsMap).some((k) => k.startsWith("."));
    const target = isSubpathMap ? (exportsMap as Record<string, unknown>)[subpath] : subpath === "." ? exportsMap : undefined;
    const file = pickCondition(target);
    return file ? join(packageDir, file) : undefined;
  }
  if (subpath !== ".") return join(packageDir, subpath);
  return join(packageDir, manifest.module ?? manifest.main ?? "index.js");
}

function pickCondition(target: unknown): string | undefined {
  if (typeof target === "string") return target;
  if (Array.isArray(target)) {
    for (const item of target) {
      const found = pickCondition(item);
      if (found) return found;
    }
    return undefined;
  }
  if (typeof target === "object" && target !== null) {
    for (const [condition, value] of Object.entries(target)) {
      if (CONDITIONS.includes(condition)) {
        const found = pickCondition(value);
        if (found) return found;
      }
    }
  }
  return undefined;
}
