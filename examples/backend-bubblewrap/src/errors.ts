/**
 * This backend's own error codes. Core's codes cover what every backend shares
 * (WORKSPACE_NOT_FOUND, ABORTED, ...); a third-party backend prefixes its own
 * with its name so they never collide with a future core code.
 */
export const BubblewrapErrorCodes = {
  /** No bwrap executable where it was looked for. */
  BUBBLEWRAP_NOT_FOUND: "BUBBLEWRAP_NOT_FOUND",
  /** bwrap exists but could not be started (permissions, a broken install). */
  BUBBLEWRAP_FAILED: "BUBBLEWRAP_FAILED",
} as const;

/** Read by locateBwrap: a bwrap outside PATH, or a wrapper around it. */
export const BWRAP_ENV = "CLAUDE_BOTTLE_BWRAP";

export const INSTALL_HINT =
  "Install bubblewrap: `apt install bubblewrap` (Debian, Ubuntu) or `dnf install bubblewrap` (Fedora), " +
  `or set ${BWRAP_ENV} to the path of bwrap.`;
