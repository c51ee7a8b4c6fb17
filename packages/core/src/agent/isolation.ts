import { BottleError, ErrorCodes } from "../errors.js";

/**
 * What stands between the agent and the host's kernel (SECURITY.md point 9).
 * `runc`: the container shares the host's kernel, behind namespaces, seccomp
 * and dropped capabilities. `gvisor`: a user-space kernel (runsc) answers the
 * agent's system calls, so a kernel bug the agent reaches is gVisor's, not the
 * host's. Listed weakest first: the order is the strength.
 */
export const ISOLATIONS = ["runc", "gvisor"] as const;

export type Isolation = (typeof ISOLATIONS)[number];

/** The pattern the agent file and the user's config check the field with. */
export const ISOLATION_PATTERN = `^(${ISOLATIONS.join("|")})$`;

export function isIsolation(value: unknown): value is Isolation {
  return typeof value === "string" && (ISOLATIONS as readonly string[]).includes(value);
}

/** The stronger of two isolations; an absent one counts for nothing. */
export function strongerIsolation(a: Isolation | undefined, b: Isolation | undefined): Isolation | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return ISOLATIONS.indexOf(a) >= ISOLATIONS.indexOf(b) ? a : b;
}

/**
 * The isolation a bottle gets from its agent file and the user's default. The
 * user's own files and the built-ins say what they want; a project's file may
 * ask for more than the user's default, never for less (the project is not
 * trusted to lower the boundary the user chose), so its ask is raised to it.
 * Absent on both: the backend's own default.
 */
export function resolveIsolation(asked: Isolation | undefined, origin: "project" | "user" | "builtin", userDefault: Isolation | undefined): Isolation | undefined {
  if (origin === "project") return strongerIsolation(asked, userDefault);
  return asked ?? userDefault;
}

/** `start --isolation`: the user at the keyboard chooses, over every file. */
export function parseIsolationFlag(value: string): Isolation {
  if (isIsolation(value)) return value;
  throw new BottleError(ErrorCodes.INVALID_ARGUMENT, `--isolation ${value}: not an isolation.`, {
    hint: `Use one of: ${ISOLATIONS.join(", ")}.`,
  });
}
