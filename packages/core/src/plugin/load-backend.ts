import { pathToFileURL } from "node:url";
import type { Backend, BackendFactory } from "../backend.js";
import { BottleError, ErrorCodes, type BackendOrigin } from "../errors.js";
import { checkedBackend } from "./checked-backend.js";
import { locateBackend, type LoadBackendOptions, type LocatedBackend } from "./locate-backend.js";
import { validateBackend } from "./validate-backend.js";

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
