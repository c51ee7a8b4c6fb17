/**
 * One error family for everything a user can run into. An error from another
 * copy of core (a backend that bundled its own) is still recognised because the
 * brand is a global symbol, not a class identity.
 */
const BRAND = Symbol.for("claude-bottle.error");

/** Codes are stable: scripts and third-party backends may match on them. */
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
  /** The backend does not advertise the operation that was asked for. */
  UNSUPPORTED: "UNSUPPORTED",
  WORKSPACE_NOT_FOUND: "WORKSPACE_NOT_FOUND",
  /** A path in the workspace that the host obeys is a symbolic link or of the wrong kind, so it cannot be protected. */
  WORKSPACE_UNSAFE: "WORKSPACE_UNSAFE",
  MOUNT_NOT_FOUND: "MOUNT_NOT_FOUND",
  ENV_NOT_SET: "ENV_NOT_SET",
  DOCKER_UNAVAILABLE: "DOCKER_UNAVAILABLE",
  DOCKER_PERMISSION_DENIED: "DOCKER_PERMISSION_DENIED",
  IMAGE_BUILD_FAILED: "IMAGE_BUILD_FAILED",
  IMAGE_NOT_FOUND: "IMAGE_NOT_FOUND",
  NAME_CONFLICT: "NAME_CONFLICT",
  BOTTLE_NOT_FOUND: "BOTTLE_NOT_FOUND",
  REGISTRY_UNREACHABLE: "REGISTRY_UNREACHABLE",
  REGISTRY_INSECURE: "REGISTRY_INSECURE",
  /** The registry answered but refused the push or pull (authentication, a read-only registry). */
  REGISTRY_REFUSED: "REGISTRY_REFUSED",
  SMOLVM_NOT_FOUND: "SMOLVM_NOT_FOUND",
  SMOLVM_VERSION: "SMOLVM_VERSION",
  SMOLVM_FAILED: "SMOLVM_FAILED",
  KVM_UNAVAILABLE: "KVM_UNAVAILABLE",
  /** The user interrupted (Ctrl-C, SIGTERM): not a failure of ours. */
  ABORTED: "ABORTED",
} as const;

/** A known code, or a third-party backend's own (prefix it with the backend's name). */
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
