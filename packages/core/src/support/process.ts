import { constants } from "node:os";

/**
 * Whether a process with this pid exists on this host. A process of another
 * user counts (signal 0 then fails with EPERM). A pid may have been reused
 * since it was written down: pair this with an age limit where that matters.
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The exit code a shell reports for a process: its own code, or 128 + the
 * number of the signal that killed it (SIGKILL: 137). What `launch`,
 * `attach` and `exec` resolve with.
 */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const number = signal ? constants.signals[signal] : undefined;
  return 128 + (number ?? constants.signals.SIGTERM);
}
