import { ExitCodes } from "./exit-codes.js";

export interface InterruptWatch {
  /** Aborted on the first SIGINT or SIGTERM; backends receive it as their context's signal. */
  readonly signal: AbortSignal;
  readonly fired: boolean;
  dispose(): void;
}

const SIGNALS = ["SIGINT", "SIGTERM"] as const;

/**
 * Turns Ctrl-C and SIGTERM into an abort, so the backend gets to stop what it
 * started (a build, a registry, a container) instead of the process dying
 * under it. A second signal means the user is done waiting: exit at once.
 */
export function watchInterrupts(): InterruptWatch {
  const controller = new AbortController();
  let fired = false;
  const onSignal = (name: NodeJS.Signals) => {
    if (fired) {
      restoreTerminal();
      process.exit(ExitCodes.INTERRUPTED);
    }
    fired = true;
    // core is imported here rather than up front so that --help and usage
    // errors never load it; by the time a backend runs, it is loaded already.
    void import("@claude-bottle/core").then(({ abortedError }) => controller.abort(abortedError(name)));
  };
  for (const name of SIGNALS) process.on(name, onSignal);
  return {
    signal: controller.signal,
    get fired() {
      return fired;
    },
    dispose() {
      for (const name of SIGNALS) process.off(name, onSignal);
    },
  };
}

/** An attached backend may have left the terminal in raw mode when we exit under it. */
function restoreTerminal(): void {
  if (process.stdin.isTTY) process.stdin.setRawMode(false);
}
