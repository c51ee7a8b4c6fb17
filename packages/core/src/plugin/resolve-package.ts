import { readFile, stat } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * The ESM entry file of `specifier` as Node would import it from a file in
 * `fromDir` (conditions `node`, `import`, `default`; `exports` patterns and
 * fallbacks included), or undefined when nothing is installed by that name.
 * exsolve (Node's own algorithm, ported) does the work: Node 20's
 * `import.meta.resolve` cannot take a parent directory, and `require.resolve`
 * ignores the `import` condition. Loaded on first use, so a start with a
 * built-in backend pays nothing for it.
 */
export async function resolvePackageEntry(specifier: string, fromDir: string): Promise<string | undefined> {
  const { resolveModulePath } = await import("exsolve");
  return resolveModulePath(specifier, {
    from: pathToFileURL(join(resolve(fromDir), "_")),
    conditions: ["node", "import", "default"],
    try: true,
    cache: false,
  });
}

/** A path (absolute, or relative to `fromDir`) to a package directory or a module file. */
export async function resolvePathEntry(path: string, fromDir: string): Promise<string | undefined> {
  const target = isAbsolute(path) ? path : resolve(fromDir, path);
  const info = await stat(target).catch(() => undefined);
  if (!info) return undefined;
  if (info.isFile()) return target;
  let manifest: { name?: unknown; exports?: unknown; main?: unknown };
  try {
    manifest = JSON.parse(await readFile(join(target, "package.json"), "utf8")) as typeof manifest;
  } catch {
    return undefined;
  }
  if (typeof manifest.name === "string" && manifest.exports !== undefined) {
    // A package directory: its entry is what the package resolves its own name to, from inside.
    return resolvePackageEntry(manifest.name, target);
  }
  return join(target, typeof manifest.main === "string" ? manifest.main : "index.js");
}

export function isPathSpecifier(specifier: string): boolean {
  return specifier.startsWith(".") || isAbsolute(specifier) || specifier.startsWith("~");
}
