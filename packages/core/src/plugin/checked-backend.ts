import { BACKEND_CAPABILITIES, type Backend, type Launched, type Prepared } from "../backend.js";
import type { BackendContext } from "../context.js";
import { assertEnforced, describeUnkeptDefaults } from "../enforcement.js";
import { BackendCrash, BottleError, ErrorCodes, type BackendOrigin } from "../errors.js";
import { BOTTLE_SPEC_VERSION, type BottleSpec } from "../spec/bottle-spec.js";

/** Checks what `launch` is about to be given: an object prepared by this very backend, saying so in `backend`. */
export function assertPreparedFor(backend: Pick<Backend, "name">, prepared: unknown): asserts prepared is Prepared {
  const value = prepared as Partial<Prepared> | null;
  if (typeof value !== "object" || value === null || typeof value.spec !== "object" || value.spec === null) {
    throw new BottleError(ErrorCodes.BACKEND_INVALID, `The ${backend.name} backend's prepare returned ${describeValue(prepared)}, not an object with the spec it was given.`);
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

/**
 * Checks what `launch` returned: `{ detached: false, name, exitCode }` (an
 * integer 0-255) or `{ detached: true, name }`, `name` the spec's: the host
 * keeps the bottle's state under that name before the bottle exists.
 */
export function assertLaunched(backend: Pick<Backend, "name">, launched: unknown, detach: boolean, name?: string): asserts launched is Launched {
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
            : name !== undefined && value.name !== name
              ? `another name than the spec's ${name}`
              : undefined;
  if (problem) {
    throw new BottleError(ErrorCodes.BACKEND_INVALID, `The ${backend.name} backend's launch returned ${describeValue(launched)}: ${problem}.`, {
      hint: "This is a bug in the backend: launch must name the bottle as the spec says and resolve with { detached: false, name, exitCode } or { detached: true, name }.",
    });
  }
}

/** A spec of this core's version, made by `resolveBottleSpec`: a backend reads it without checking it again. */
function assertSpec(spec: unknown): asserts spec is BottleSpec {
  const value = spec as Partial<BottleSpec> | null;
  if (typeof value !== "object" || value === null || value.specVersion !== BOTTLE_SPEC_VERSION || typeof value.name !== "string" || !value.name) {
    throw new BottleError(ErrorCodes.INVALID_ARGUMENT, `prepare was given ${describeValue(spec)}, not a bottle spec of version ${BOTTLE_SPEC_VERSION}.`, {
      hint: "Make the spec with resolveBottleSpec (from @claude-bottle/core/host), from a resolved agent and a bottle name.",
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

const METHODS = new Set<string | symbol>(["prepare", "launch", "removeHome", ...BACKEND_CAPABILITIES]);

/**
 * The backend as the host calls it: `prepare` first refuses a spec that asks
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
        return async (spec: BottleSpec, ctx: BackendContext) => {
          assertSpec(spec);
          const unkeptDefaults = assertEnforced(spec, target);
          const said = describeUnkeptDefaults(target, unkeptDefaults);
          if (said) ctx.logger.warn(said);
          return Promise.resolve()
            .then(() => method.call(target, spec, ctx))
            .catch(crash);
        };
      }
      if (key === "launch") {
        return async (prepared: unknown, opts: { detach: boolean }, ctx: unknown) => {
          assertPreparedFor(target, prepared);
          const launched = await Promise.resolve()
            .then(() => method.call(target, prepared, opts, ctx))
            .catch(crash);
          assertLaunched(target, launched, opts.detach, (prepared as Prepared).spec.name);
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
