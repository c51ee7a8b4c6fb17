/**
 * One error family for everything a user can run into. An error from another
 * copy of core (a backend that bundled its own) is still recognised because the
 * brand is a global symbol, not a class identity.
 */
const BRAND = Symbol.for("claude-bottle.error");

/**
 * The codes every backend shares. Codes are stable: scripts and third-party
 * backends may match on them. A backend's own codes live in its package,
 * prefixed with its name (`DockerErrorCodes`, `SmolmachinesErrorCodes`,
 * `BubblewrapErrorCodes`).
 */
export const ErrorCodes = {
  /** Bad flag, argument or option combination. */
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  AGENT_NOT_FOUND: "AGENT_NOT_FOUND",
  AGENT_INVALID: "AGENT_INVALID",
  /** The agent file asks for what no agent may have: the engine's socket, /, the home directory... */
  AGENT_REFUSED: "AGENT_REFUSED",
  /** Configuration from the project has not been approved by the user (see `claude-bottle trust`). */
  APPROVAL_REQUIRED: "APPROVAL_REQUIRED",
  BACKEND_NOT_FOUND: "BACKEND_NOT_FOUND",
  BACKEND_IMPORT_FAILED: "BACKEND_IMPORT_FAILED",
  BACKEND_INVALID: "BACKEND_INVALID",
  BACKEND_API_VERSION: "BACKEND_API_VERSION",
  /** The agent asks for something (a network allow-list, credentials, a limit) its backend does not declare it enforces. */
  POLICY_NOT_ENFORCED: "POLICY_NOT_ENFORCED",
  /** The backend does not advertise the operation that was asked for. */
  UNSUPPORTED: "UNSUPPORTED",
  WORKSPACE_NOT_FOUND: "WORKSPACE_NOT_FOUND",
  /** A path in the workspace that the host obeys is a symbolic link or of the wrong kind, so it cannot be protected. */
  WORKSPACE_UNSAFE: "WORKSPACE_UNSAFE",
  MOUNT_NOT_FOUND: "MOUNT_NOT_FOUND",
  ENV_NOT_SET: "ENV_NOT_SET",
  IMAGE_BUILD_FAILED: "IMAGE_BUILD_FAILED",
  IMAGE_NOT_FOUND: "IMAGE_NOT_FOUND",
  NAME_CONFLICT: "NAME_CONFLICT",
  /** A port to publish is already taken on the user's loopback (by another bottle or a program of the host). */
  PORT_IN_USE: "PORT_IN_USE",
  BOTTLE_NOT_FOUND: "BOTTLE_NOT_FOUND",
  /** The operation needs a stopped bottle (`rm` without `--force`). */
  BOTTLE_RUNNING: "BOTTLE_RUNNING",
  /** The operation needs a running bottle (`attach`, `exec`). */
  BOTTLE_NOT_RUNNING: "BOTTLE_NOT_RUNNING",
  /** A home cannot be removed while a bottle has it (`rm --home`). */
  HOME_IN_USE: "HOME_IN_USE",
  /** There is no such home (`rm --home`, `removeHome`). */
  HOME_NOT_FOUND: "HOME_NOT_FOUND",
  REGISTRY_UNREACHABLE: "REGISTRY_UNREACHABLE",
  REGISTRY_INSECURE: "REGISTRY_INSECURE",
  /** The registry answered but refused the push or pull (authentication, a read-only registry). */
  REGISTRY_REFUSED: "REGISTRY_REFUSED",
  /** The user interrupted (Ctrl-C, SIGTERM): not a failure of ours. */
  ABORTED: "ABORTED",
} as const;

/** A shared code, or a backend's own (prefixed with the backend's name). */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes] | (string & {});

export interface BottleErrorOptions {
  /** What the user should do next; one or two sentences. */
  hint?: string;
  cause?: unknown;
}

export class BottleError extends Error {
  readonly [BRAND] = true;
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: BottleErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "BottleError";
    this.code = code;
    this.hint = options.hint;
  }

  /** True for any claude-bottle error, whichever copy of core created it. */
  static isInstance(error: unknown): error is BottleError {
    return typeof error === "object" && error !== null && (error as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** Thrown when the user interrupts; the CLI exits 130 without a message. */
export function abortedError(reason?: unknown): BottleError {
  return new BottleError(ErrorCodes.ABORTED, "Interrupted.", { cause: reason });
}

/** Throws the aborted error if the signal has fired: call it between steps of long work. */
export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw abortedError(signal.reason);
}

/** "There is no bottle called NAME": what `stop`, `remove`, `logs`, `attach` and `exec` throw for an unknown name. */
export function bottleNotFoundError(backend: string, name: string): BottleError {
  return new BottleError(ErrorCodes.BOTTLE_NOT_FOUND, `There is no bottle called ${name} on the ${backend} backend.`, {
    hint: `List the bottles with \`claude-bottle --backend ${backend} ls\`.`,
  });
}

/** `remove` without `force` of a bottle that is still running. */
export function bottleRunningError(name: string, options: BottleErrorOptions = {}): BottleError {
  return new BottleError(ErrorCodes.BOTTLE_RUNNING, `The bottle ${name} is running.`, {
    hint: `Stop it first (claude-bottle stop ${name}), or remove it with --force.`,
    ...options,
  });
}

/** `attach` or `exec` of a bottle that is not running; `state` is what it is instead. */
export function bottleNotRunningError(name: string, state: string, options: BottleErrorOptions = {}): BottleError {
  return new BottleError(ErrorCodes.BOTTLE_NOT_RUNNING, `The bottle ${name} is ${state}, not running.`, {
    hint: `See its output with \`claude-bottle logs ${name}\`, or remove it with \`claude-bottle rm ${name}\`.`,
    ...options,
  });
}

const CRASH = Symbol.for("claude-bottle.backend-crash");

/** The package a third-party backend came from, as a crash report names it. */
export interface BackendOrigin {
  /** The name the backend was selected by. */
  name: string;
  packageName?: string;
  version?: string;
  /** Its package.json's `bugs` URL, where it has one. */
  bugs?: string;
}

/**
 * An error that is not a BottleError, thrown by a third-party backend: a bug
 * in that backend, to be reported to its author rather than to claude-bottle.
 * The original error is the cause; `origin` says whose it is.
 */
export class BackendCrash extends Error {
  readonly [CRASH] = true;
  readonly origin: BackendOrigin;

  constructor(origin: BackendOrigin, cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = "BackendCrash";
    this.origin = origin;
  }

  static isInstance(error: unknown): error is BackendCrash {
    return typeof error === "object" && error !== null && (error as Record<symbol, unknown>)[CRASH] === true;
  }
}
