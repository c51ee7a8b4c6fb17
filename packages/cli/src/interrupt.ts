import { ExitCodes } from "./exit-codes.js";

export interface InterruptWatch {
  /** Aborted on the first interruption; backends receive it as their context's signal. */
  readonly signal: AbortSignal;
  readonly fired: boolean;
  dispose(): void;
}

/** SIGHUP is the terminal going away (a closed window, a dropped SSH session) under an attached agent. */
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** A closed pipe (`| head`) or a vanished terminal: nobody reads our output any more. */
const READER_GONE = new Set(["EPIPE", "EIO"]);

/**
 * Turns Ctrl-C, SIGTERM, a hang-up and a reader that went away into an
 * abort, so the backend gets to stop what it started (a build, a registry, a
 * container) instead of the process dying under it. A second signal means
 * the user is done waiting: exit at once.
 */
export function watchInterrupts(): InterruptWatch {
  const controller = new AbortController();
  let fired = false;
  const interrupt = (reason: string) => {
    if (fired) return;
    fired = true;
    // core is imported here rather than up front so that --help and usage
    // errors never load it; by the time a backend runs, it is loaded already.
    void import("@claude-bottle/core").then(({ abortedError }) => controller.abort(abortedError(reason)));
  };
  const onSignal = (name: NodeJS.Signals) => {
    if (fired && name !== "SIGHUP") {
      restoreTerminal();
      process.exit(ExitCodes.INTERRUPTED);
    }
    interrupt(name);
  };
  const onStreamError = (error: NodeJS.ErrnoException) => {
    if (!READER_GONE.has(error.code ?? "")) throw error;
    interrupt(error.code!);
  };
  for (const name of SIGNALS) process.on(name, onSignal);
  for (const stream of [process.stdout, process.stderr]) stream.on("error", onStreamError);
  return {
    signal: controller.signal,
    get fired() {
      return fired;
    },
    dispose() {
      for (const name of SIGNALS) process.off(name, onSignal);
      for (const stream of [process.stdout, process.stderr]) stream.off("error", onStreamError);
    },
  };
}

/** An attached backend may have left the terminal in raw mode when we exit under it. */
function restoreTerminal(): void {
  if (process.stdin.isTTY) process.stdin.setRawMode(false);
}
