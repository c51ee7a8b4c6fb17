import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { isInside, realPath } from "../agent/host-paths.js";
import { BACKEND_API_VERSION, type Backend, type BackendFactory } from "../backend.js";
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
  /** Passed to the factory. */
  factoryOptions?: unknown;
}

export interface LoadedBackend {
  backend: Backend;
  /** Where it came from: "built-in" or the resolved entry file. */
  source: string;
}

export function selectedBackendName(name: string | undefined, env: LoadBackendOptions["env"]): string {
  return name?.trim() || env.CLAUDE_BOTTLE_BACKEND?.trim() || DEFAULT_BACKEND;
}

/** The package specifiers tried for a backend name, in order (after the built-ins). */
export function candidateSpecifiers(name: string): string[] {
  if (isPathSpecifier(name) || name.startsWith("@") || name.includes("/")) return [name];
  return [`@claude-bottle/backend-${name}`, `claude-bottle-backend-${name}`, name];
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
      /**
       * Found from the project (its node_modules, or a path) rather than next
       * to claude-bottle: its code is as untrusted as the rest of the project.
       */
      fromProject: boolean;
    };

export async function locateBackend(options: Omit<LoadBackendOptions, "factoryOptions">): Promise<LocatedBackend> {
  const name = selectedBackendName(options.name, options.env);
  if (options.builtins[name]) return { kind: "builtin", name, fromProject: false };
  const found = await findEntry(name, options);
  if (!found) {
    const builtins = Object.keys(options.builtins).join(", ");
    throw new BottleError(ErrorCodes.BACKEND_NOT_FOUND, `No backend named "${name}" could be found.`, {
      hint:
        `Built-in backends: ${builtins}. To add "${name}", install it in your project: ` +
        `npm i -D @claude-bottle/backend-${name} (or claude-bottle-backend-${name}).`,
    });
  }
  const owner = await owningPackage(found.entry);
  return {
    kind: "package",
    name,
    entry: found.entry,
    packageDir: owner?.dir ?? dirname(found.entry),
    ...(owner?.name !== undefined && { packageName: owner.name }),
    ...(owner?.version !== undefined && { version: owner.version }),
    fromProject: found.fromProject,
  };
}

/** Imports a located backend and validates what its factory returns. */
export async function importBackend(located: LocatedBackend, options: Pick<LoadBackendOptions, "builtins" | "factoryOptions">): Promise<LoadedBackend> {
  if (located.kind === "builtin") {
    const backend = instantiate(located.name, await importModule(located.name, options.builtins[located.name]!), options.factoryOptions);
    return { backend, source: "built-in" };
  }
  const module = await importModule(located.name, () => import(pathToFileURL(located.entry).href));
  return { backend: instantiate(located.name, module, options.factoryOptions), source: located.entry };
}

export async function loadBackend(options: LoadBackendOptions): Promise<LoadedBackend> {
  return importBackend(await locateBackend(options), options);
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
async function owningPackage(entry: string): Promise<{ dir: string; name?: string; version?: string } | undefined> {
  let dir = dirname(entry);
  for (;;) {
    try {
      const manifest = JSON.parse(await readFile(join(dir, "package.json"), "utf8")) as { name?: unknown; version?: unknown };
      return {
        dir,
        ...(typeof manifest.name === "string" && { name: manifest.name }),
        ...(typeof manifest.version === "string" && { version: manifest.version }),
      };
    } catch {
      const parent = dirname(dir);
      if (parent === dir || basename(dir) === "node_modules") return undefined;
      dir = parent;
    }
  }
}

async function importModule(name: string, load: () => Promise<unknown>): Promise<unknown> {
  try {
    return await load();
  } catch (error) {
    throw new BottleError(
      ErrorCodes.BACKEND_IMPORT_FAILED,
      `The backend "${name}" failed to load: ${error instanceof Error ? error.message : String(error)}`,
      { hint: "Reinstall the backend package, or run with --debug to see where it failed.", cause: error },
    );
  }
}

function instantiate(name: string, module: unknown, factoryOptions: unknown): Backend {
  const factory = (module as { default?: unknown } | null)?.default;
  if (typeof factory !== "function") {
    throw new BottleError(ErrorCodes.BACKEND_INVALID, `The backend "${name}" does not default-export a factory function.`, {
      hint: "A backend package's default export must be a BackendFactory: (options) => Backend.",
    });
  }
  let backend: unknown;
  try {
    backend = (factory as BackendFactory)(factoryOptions);
  } catch (error) {
    if (BottleError.isInstance(error)) throw error;
    throw new BottleError(ErrorCodes.BACKEND_INVALID, `The backend "${name}" threw while being created: ${String(error)}`, {
      cause: error,
    });
  }
  return validateBackend(name, backend);
}

/** Checks the shape and the contract version; refuses what this core cannot drive. */
export function validateBackend(name: string, backend: unknown): Backend {
  const candidate = backend as Partial<Backend> | null;
  if (typeof candidate !== "object" || candidate === null) {
    throw new BottleError(ErrorCodes.BACKEND_INVALID, `The backend "${name}"'s factory did not return an object.`);
  }
  if (candidate.apiVersion !== BACKEND_API_VERSION) {
    throw new BottleError(
      ErrorCodes.BACKEND_API_VERSION,
      `The backend "${name}" implements contract version ${String(candidate.apiVersion)}, but this claude-bottle speaks version ${BACKEND_API_VERSION}.`,
      { hint: "Install a version of the backend made for this claude-bottle, or upgrade claude-bottle." },
    );
  }
  const missing = (["prepare", "launch"] as const).filter((m) => typeof candidate[m] !== "function");
  if (typeof candidate.name !== "string" || !Array.isArray(candidate.capabilities) || missing.length) {
    throw new BottleError(
      ErrorCodes.BACKEND_INVALID,
      `The backend "${name}" is not a valid backend: it needs a name, capabilities and the methods prepare and launch.`,
    );
  }
  const absent = candidate.capabilities.filter(
    // Every capability but detach is the name of the method that implements it.
    (c) => c !== "detach" && typeof (candidate as Record<string, unknown>)[c] !== "function",
  );
  if (absent.length) {
    throw new BottleError(
      ErrorCodes.BACKEND_INVALID,
      `The backend "${name}" advertises ${absent.join(", ")} but does not implement ${absent.length > 1 ? "them" : "it"}.`,
    );
  }
  return candidate as Backend;
}

/** The backend's method for `capability`, or an UNSUPPORTED error naming the backend. */
export function requireCapability<C extends Exclude<keyof Backend, "apiVersion" | "name" | "capabilities" | "prepare" | "launch" | "removeHome">>(
  backend: Backend,
  capability: C,
): NonNullable<Backend[C]> {
  const method = backend[capability];
  if (!backend.capabilities.includes(capability) || typeof method !== "function") {
    throw new BottleError(ErrorCodes.UNSUPPORTED, `The ${backend.name} backend does not support "${capability}".`, {
      hint: "Choose another backend with --backend or CLAUDE_BOTTLE_BACKEND.",
    });
  }
  return method.bind(backend) as NonNullable<Backend[C]>;
}
