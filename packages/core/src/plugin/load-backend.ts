import { readdir, readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { isInside, realPath } from "../agent/host-paths.js";
import { BACKEND_API_VERSION, BACKEND_CAPABILITIES, type Backend, type BackendFactory, type Capability, type Launched, type Prepared } from "../backend.js";
import type { BackendContext } from "../context.js";
import type { ResolvedAgent } from "../agent/model.js";
import { assertEnforced, describeUnkeptDefaults, ENFORCEMENTS } from "../enforcement.js";
import { BackendCrash, BottleError, ErrorCodes, type BackendOrigin } from "../errors.js";
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

export interface LoadedBackend {
  /**
   * The backend, as the host should call it: `launch` checks that what it is
   * given was prepared by this backend and that what it returns is a valid
   * `Launched`; a third-party backend's own crashes come out as `BackendCrash`.
   */
  backend: Backend;
  /** Where it came from: "built-in" or the resolved entry file. */
  source: string;
}

/** The package name prefixes a backend is found by: `@claude-bottle/backend-NAME`, then `claude-bottle-backend-NAME`. */
export const BACKEND_PACKAGE_PREFIXES = ["@claude-bottle/backend-", "claude-bottle-backend-"] as const;

const KNOWN_CAPABILITIES: readonly Capability[] = BACKEND_CAPABILITIES;

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

export interface ImportBackendOptions extends Pick<LoadBackendOptions, "builtins"> {
  /**
   * The module file to import instead of the located entry: a project
   * backend's approved copy (see importApprovedBackend), so that nothing is
   * read from the project between its digest and its import.
   */
  from?: string;
}

/**
 * Imports a located backend and validates what its factory returns. It does
 * not ask for approval: the CLI imports a project backend only through
 * importApprovedBackend.
 */
export async function importBackend(located: LocatedBackend, options: ImportBackendOptions): Promise<LoadedBackend> {
  if (located.kind === "builtin") {
    const backend = instantiate(located.name, await importModule(located, options.builtins[located.name]!));
    return { backend: checkedBackend(backend), source: "built-in" };
  }
  const module = await importModule(located, () => import(pathToFileURL(options.from ?? located.entry).href), options.from !== undefined);
  const origin: BackendOrigin = {
    name: located.name,
    ...(located.packageName !== undefined && { packageName: located.packageName }),
    ...(located.version !== undefined && { version: located.version }),
    ...(located.bugs !== undefined && { bugs: located.bugs }),
  };
  return { backend: checkedBackend(instantiate(located.name, module, origin), origin), source: located.entry };
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

async function importModule(located: LocatedBackend, load: () => Promise<unknown>, fromCopy = false): Promise<unknown> {
  try {
    return await load();
  } catch (error) {
    const where = located.kind === "package" ? ` (${describePackage(located)})` : "";
    const report = located.kind === "package" && located.bugs ? ` If it persists, report it at ${located.bugs}.` : "";
    // From its copy, a backend finds only its own files and the packages it declares.
    const undeclared = fromCopy && (error as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND";
    throw new BottleError(
      ErrorCodes.BACKEND_IMPORT_FAILED,
      `The backend "${located.name}"${where} failed to load: ${error instanceof Error ? error.message : String(error)}`,
      {
        hint: undeclared
          ? "A backend from the project runs from an approved copy of its package and the dependencies its package.json declares (dependencies, optionalDependencies, peerDependencies); a file outside its package or a package it does not declare is not there. Declare it, then approve the backend again."
          : `Reinstall the backend package, or run with --debug to see where it failed.${report}`,
        cause: error,
      },
    );
  }
}

function describePackage(origin: { packageName?: string; version?: string; entry?: string }): string {
  if (origin.packageName) return `${origin.packageName}${origin.version ? `@${origin.version}` : ""}`;
  return origin.entry ?? "a file";
}

function instantiate(name: string, module: unknown, origin?: BackendOrigin): Backend {
  const factory = (module as { default?: unknown } | null)?.default;
  if (typeof factory !== "function") {
    throw new BottleError(ErrorCodes.BACKEND_INVALID, `The backend "${name}" does not default-export a factory function.`, {
      hint: "A backend package's default export must be a BackendFactory: (options) => Backend.",
    });
  }
  let backend: unknown;
  try {
    // The loader has no options to give: a factory defaults them.
    backend = (factory as BackendFactory)();
  } catch (error) {
    if (BottleError.isInstance(error)) throw error;
    throw new BottleError(ErrorCodes.BACKEND_INVALID, `The backend "${name}" threw while being created: ${String(error)}`, {
      ...(origin?.bugs && { hint: `This is a bug in ${describePackage(origin)}; report it at ${origin.bugs}.` }),
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
  const enforces: unknown = (candidate as { enforces?: unknown }).enforces;
  if (enforces !== undefined && (!Array.isArray(enforces) || enforces.some((e) => !(ENFORCEMENTS as readonly unknown[]).includes(e)))) {
    const odd = Array.isArray(enforces) ? enforces.filter((e) => !(ENFORCEMENTS as readonly unknown[]).includes(e)) : [enforces];
    throw new BottleError(
      ErrorCodes.BACKEND_INVALID,
      `The backend "${name}" declares enforcing ${odd.map((e) => JSON.stringify(e)).join(", ")}, which this claude-bottle does not know.`,
      { hint: `enforces is a list of: ${ENFORCEMENTS.join(", ")}. A newer claude-bottle may know it; otherwise the backend has a typo.` },
    );
  }
  const unknown = candidate.capabilities.filter((c) => !KNOWN_CAPABILITIES.includes(c));
  if (unknown.length) {
    throw new BottleError(
      ErrorCodes.BACKEND_INVALID,
      `The backend "${name}" advertises ${unknown.length > 1 ? "capabilities" : "a capability"} this claude-bottle does not know: ${unknown.map((c) => JSON.stringify(c)).join(", ")}.`,
      { hint: `Known capabilities: ${KNOWN_CAPABILITIES.join(", ")}. A newer claude-bottle may know it; otherwise the backend has a typo.` },
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
  if (candidate.capabilities.includes("homes") && typeof candidate.removeHome !== "function") {
    throw new BottleError(ErrorCodes.BACKEND_INVALID, `The backend "${name}" advertises homes but does not implement removeHome, which homes promises.`);
  }
  return candidate as Backend;
}

/** The backend's method for `capability`, or an UNSUPPORTED error naming the backend. */
export function requireCapability<C extends Exclude<keyof Backend, "apiVersion" | "name" | "capabilities" | "enforces" | "prepare" | "launch" | "removeHome">>(
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

/** Checks what `launch` is about to be given: an object prepared by this very backend, saying so in `backend`. */
export function assertPreparedFor(backend: Pick<Backend, "name">, prepared: unknown): asserts prepared is Prepared {
  const value = prepared as Partial<Prepared> | null;
  if (typeof value !== "object" || value === null || typeof value.agent !== "object" || value.agent === null) {
    throw new BottleError(ErrorCodes.BACKEND_INVALID, `The ${backend.name} backend's prepare returned ${describeValue(prepared)}, not an object with the agent.`);
  }
  if (value.backend === undefined) {
    throw new BottleError(ErrorCodes.BACKEND_INVALID, `The ${backend.name} backend's prepare returned a value without \`backend\`.`, {
      hint: `Set \`backend: "${backend.name}"\` in what prepare returns (the contract's Prepared).`,
    });
  }
  if (value.backend !== backend.name) {
    throw new BottleError(
      ErrorCodes.BACKEND_INVALID,
      `The ${backend.name} backend was asked to launch what the ${String(value.backend)} backend prepared.`,
      { hint: "Pass launch the result of the same backend's prepare." },
    );
  }
}

/** Checks what `launch` returned: `{ detached: false, name, exitCode }` (an integer 0-255) or `{ detached: true, name }`. */
export function assertLaunched(backend: Pick<Backend, "name">, launched: unknown, detach: boolean): asserts launched is Launched {
  const value = launched as Partial<{ detached: unknown; name: unknown; exitCode: unknown }> | null;
  const problem =
    typeof value !== "object" || value === null
      ? "not an object"
      : typeof value.name !== "string" || value.name === ""
        ? "no bottle name"
        : value.detached !== detach
          ? `detached: ${String(value.detached)} for a ${detach ? "detached" : "attached"} launch`
          : !detach && !(Number.isInteger(value.exitCode) && (value.exitCode as number) >= 0 && (value.exitCode as number) <= 255)
            ? "no exit code (an integer from 0 to 255)"
            : undefined;
  if (problem) {
    throw new BottleError(ErrorCodes.BACKEND_INVALID, `The ${backend.name} backend's launch returned ${describeValue(launched)}: ${problem}.`, {
      hint: "This is a bug in the backend: launch must resolve with { detached: false, name, exitCode } or { detached: true, name }.",
    });
  }
}

function describeValue(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

const METHODS = new Set<string | symbol>(["prepare", "launch", "removeHome", ...KNOWN_CAPABILITIES]);

/**
 * The backend as the host calls it: `prepare` first refuses an agent that asks
 * for what the backend does not declare it enforces (and says which of core's
 * defaults it does not keep), `launch` checks its input and its result, and, for a third-party backend (`origin`), an error that is not a
 * BottleError comes out as a `BackendCrash` naming its package, so the user
 * reports it to the backend's author, not to claude-bottle.
 */
export function checkedBackend(backend: Backend, origin?: BackendOrigin): Backend {
  const crash = (error: unknown): never => {
    if (!origin || BottleError.isInstance(error) || BackendCrash.isInstance(error)) throw error;
    throw new BackendCrash(origin, error);
  };
  return new Proxy(backend, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== "function" || !METHODS.has(key)) return value;
      const method = value as (...args: unknown[]) => unknown;
      if (key === "prepare") {
        return async (agent: ResolvedAgent, ctx: BackendContext) => {
          const unkeptDefaults = assertEnforced(agent, target);
          const said = describeUnkeptDefaults(target, unkeptDefaults);
          if (said) ctx.logger.warn(said);
          return Promise.resolve()
            .then(() => method.call(target, agent, ctx))
            .catch(crash);
        };
      }
      if (key === "launch") {
        return async (prepared: unknown, opts: { detach: boolean }, ctx: unknown) => {
          assertPreparedFor(target, prepared);
          const launched = await Promise.resolve()
            .then(() => method.call(target, prepared, opts, ctx))
            .catch(crash);
          assertLaunched(target, launched, opts.detach);
          return launched;
        };
      }
      return function (this: unknown, ...args: unknown[]) {
        try {
          const result = method.apply(target, args);
          return result instanceof Promise ? result.catch(crash) : result;
        } catch (error) {
          return crash(error);
        }
      };
    },
  });
}
