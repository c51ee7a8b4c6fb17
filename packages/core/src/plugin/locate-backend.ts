import { readdir, readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { isInside, realPath } from "../agent/host-paths.js";
import { BottleError, ErrorCodes } from "../errors.js";
import { isPathSpecifier, resolvePackageEntry, resolvePathEntry } from "./resolve-package.js";

export const DEFAULT_BACKEND = "docker";

/** A built-in backend, imported lazily so an unused one costs nothing at start-up. */
export type BuiltinBackends = Readonly<Record<string, () => Promise<unknown>>>;

export interface LoadBackendOptions {
  /** `--backend`; falls back to CLAUDE_BOTTLE_BACKEND, then docker. */
  name?: string;
  env: Readonly<Record<string, string | undefined>>;
  /** The user's project directory: packages installed there win. */
  projectDir: string;
  /** The host's own install directory (the CLI's), searched second. */
  hostDir: string;
  builtins: BuiltinBackends;
}

/** The package name prefixes a backend is found by: `@claude-bottle/backend-NAME`, then `claude-bottle-backend-NAME`. */
export const BACKEND_PACKAGE_PREFIXES = ["@claude-bottle/backend-", "claude-bottle-backend-"] as const;

export function selectedBackendName(name: string | undefined, env: LoadBackendOptions["env"]): string {
  return name?.trim() || env.CLAUDE_BOTTLE_BACKEND?.trim() || DEFAULT_BACKEND;
}

/** The package specifiers tried for a backend name, in order (after the built-ins). */
export function candidateSpecifiers(name: string): string[] {
  if (isPathSpecifier(name) || name.startsWith("@") || name.includes("/")) return [name];
  return [...BACKEND_PACKAGE_PREFIXES.map((prefix) => `${prefix}${name}`), name];
}

/** `@claude-bottle/backend-x` and `claude-bottle-backend-x` are both "x"; any other package keeps its name. */
export function backendShortName(packageName: string): string {
  const prefix = BACKEND_PACKAGE_PREFIXES.find((p) => packageName.startsWith(p));
  return prefix ? packageName.slice(prefix.length) : packageName;
}

/**
 * The backend packages (by the prefixes above) installed in a `node_modules`
 * of each directory or any directory above it, as Node would find them,
 * sorted. Nothing is read but directory names.
 */
export async function findInstalledBackends(fromDirs: readonly string[]): Promise<string[]> {
  const found = new Set<string>();
  const visited = new Set<string>();
  for (const fromDir of fromDirs) {
    let dir = resolve(fromDir);
    for (;;) {
      const modules = join(dir, "node_modules");
      if (!visited.has(modules)) {
        visited.add(modules);
        for (const prefix of BACKEND_PACKAGE_PREFIXES) {
          const scope = prefix.startsWith("@") ? prefix.slice(0, prefix.indexOf("/")) : undefined;
          const rest = scope ? prefix.slice(scope.length + 1) : prefix;
          for (const entry of await readdir(scope ? join(modules, scope) : modules).catch(() => [] as string[])) {
            if (entry.startsWith(rest) && entry.length > rest.length) found.add(scope ? `${scope}/${entry}` : entry);
          }
        }
      }
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  return [...found].sort();
}

/**
 * Where a backend's code is, found without running any of it: the CLI needs
 * to know whether it comes from the project (and so needs the user's
 * approval) before it imports anything.
 */
export type LocatedBackend =
  | { kind: "builtin"; name: string; fromProject: false }
  | {
      kind: "package";
      name: string;
      /** The module file `import()` loads. */
      entry: string;
      /** The directory of the package.json that owns the entry (the file's own directory for a lone module). */
      packageDir: string;
      packageName?: string;
      version?: string;
      /** Where its author takes bug reports (package.json `bugs`), when it says. */
      bugs?: string;
      /**
       * Found from the project (its node_modules, or a path) rather than next
       * to claude-bottle: its code is as untrusted as the rest of the project.
       */
      fromProject: boolean;
    };

export async function locateBackend(options: LoadBackendOptions): Promise<LocatedBackend> {
  const name = selectedBackendName(options.name, options.env);
  if (options.builtins[name]) return { kind: "builtin", name, fromProject: false };
  const found = await findEntry(name, options);
  if (!found) throw notFound(name, options);
  const owner = await owningPackage(found.entry);
  return {
    kind: "package",
    name,
    entry: found.entry,
    packageDir: owner?.dir ?? dirname(found.entry),
    ...(owner?.name !== undefined && { packageName: owner.name }),
    ...(owner?.version !== undefined && { version: owner.version }),
    ...(owner?.bugs !== undefined && { bugs: owner.bugs }),
    fromProject: found.fromProject,
  };
}

function notFound(name: string, options: Pick<LoadBackendOptions, "builtins" | "projectDir">): BottleError {
  const builtins = Object.keys(options.builtins).join(", ");
  if (isPathSpecifier(name)) {
    const path = name.startsWith("~") ? join(homedir(), name.slice(1)) : resolve(options.projectDir, name);
    return new BottleError(ErrorCodes.BACKEND_NOT_FOUND, `No backend at ${path}: no such file, or a directory without a package.json.`, {
      hint: `A backend path names a module file or a package directory; a relative one starts from ${options.projectDir}. Built-in backends: ${builtins}.`,
    });
  }
  // A name that already is a package's (claude-bottle-backend-zz, @acme/x) is installed as it is, not prefixed again.
  const install =
    name.startsWith("@") || name.includes("/") || BACKEND_PACKAGE_PREFIXES.some((prefix) => name.startsWith(prefix))
      ? name
      : `${BACKEND_PACKAGE_PREFIXES[0]}${name} (or ${BACKEND_PACKAGE_PREFIXES[1]}${name})`;
  return new BottleError(ErrorCodes.BACKEND_NOT_FOUND, `No backend named "${name}" could be found.`, {
    hint: `Built-in backends: ${builtins}. To add "${name}", install it in your project: npm i -D ${install}.`,
  });
}

async function findEntry(name: string, options: Pick<LoadBackendOptions, "projectDir" | "hostDir">): Promise<{ entry: string; fromProject: boolean } | undefined> {
  if (isPathSpecifier(name)) {
    const path = name.startsWith("~") ? join(homedir(), name.slice(1)) : name;
    const entry = await resolvePathEntry(path, options.projectDir);
    return entry === undefined ? undefined : { entry, fromProject: !isInside(realPath(entry), realPath(options.hostDir)) };
  }
  for (const specifier of candidateSpecifiers(name)) {
    const entry = await resolvePackageEntry(specifier, options.projectDir);
    if (!entry) continue;
    // The project's copy wins; it is claude-bottle's own only when the CLI's install reaches the very same file.
    const fromHost = await resolvePackageEntry(specifier, options.hostDir);
    return { entry, fromProject: !fromHost || realPath(entry) !== realPath(fromHost) };
  }
  for (const specifier of candidateSpecifiers(name)) {
    const entry = await resolvePackageEntry(specifier, options.hostDir);
    if (entry) return { entry, fromProject: false };
  }
  return undefined;
}

/** The nearest package.json above a module file, with its name and version. */
async function owningPackage(entry: string): Promise<{ dir: string; name?: string; version?: string; bugs?: string } | undefined> {
  let dir = dirname(entry);
  for (;;) {
    try {
      const manifest = JSON.parse(await readFile(join(dir, "package.json"), "utf8")) as { name?: unknown; version?: unknown; bugs?: unknown };
      const bugs = typeof manifest.bugs === "string" ? manifest.bugs : (manifest.bugs as { url?: unknown } | undefined)?.url;
      return {
        dir,
        ...(typeof manifest.name === "string" && { name: manifest.name }),
        ...(typeof manifest.version === "string" && { version: manifest.version }),
        ...(typeof bugs === "string" && { bugs }),
      };
    } catch {
      const parent = dirname(dir);
      if (parent === dir || basename(dir) === "node_modules") return undefined;
      dir = parent;
    }
  }
}
