/**
 * What the process exits with, besides the agent's own code which `start`,
 * `attach` and `exec` pass through. 125 and 130 follow `docker run` and the
 * shell's convention so wrappers can tell claude-bottle's failures apart.
 */
export const ExitCodes = {
  OK: 0,
  /** `doctor` found a prerequisite missing. */
  CHECK_FAILED: 1,
  /** `merge` stopped on a conflict, as git does, for the user to resolve. */
  CONFLICT: 1,
  /** A bad command line: unknown command or option, missing argument. */
  USAGE: 2,
  /**
   * claude-bottle itself failed (agent, backend, Docker, build...), or the
   * bottle is not in the state the command needs (BOTTLE_RUNNING, BOTTLE_NOT_RUNNING, HOME_IN_USE).
   */
  ERROR: 125,
  /** Interrupted by SIGINT or SIGTERM (a hang-up ends the process by SIGHUP itself, see cli.ts). */
  INTERRUPTED: 130,
} as const;
