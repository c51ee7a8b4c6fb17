import { realpathSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, sep } from "node:path";

/**
 * The path with every symlink resolved, as far as it exists: a path that does
 * not exist yet keeps its missing tail on top of its nearest real ancestor, so
 * a link in any existing part of it is still seen through.
 */
export function realPath(path: string): string {
  try {
    return realpathSync.native(path);
  } catch {
    const parent = dirname(path);
    return parent === path ? path : join(realPath(parent), basename(path));
  }
}

/**
 * True when `path` is `dir` or lies below it (both already real, absolute,
 * normalized paths). On POSIX that is a prefix ending at a separator, which is
 * all path.relative would conclude at many times the cost (a start makes
 * hundreds of these checks); Windows keeps relative's case-insensitive answer.
 */
export function isInside(path: string, dir: string): boolean {
  if (sep === "/") {
    const base = dir.length > 1 && dir.endsWith("/") ? dir.slice(0, -1) : dir;
    return path === base || path.startsWith(base === "/" ? "/" : `${base}/`);
  }
  const rel = relative(dir, path);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/** True when either path contains the other: mounting one exposes (part of) the other. */
export function overlaps(a: string, b: string): boolean {
  return isInside(a, b) || isInside(b, a);
}
