import type { PhaseName, ProgressEvent } from "@claude-bottle/core";
import { PlainRenderer } from "./plain.js";

/** Turns a backend's progress events into something a person can follow on stderr. */
export interface ProgressRenderer {
  handle(event: ProgressEvent): void;
  /** A message for the user, printed without breaking a running spinner. */
  log(line: string): void;
  /** Stops any spinner: call before writing anything else to the terminal. */
  stop(): void;
}

export interface RendererOptions {
  stream: NodeJS.WriteStream;
  env: Readonly<Record<string, string | undefined>>;
  /** Also show the raw output lines of long steps (build logs). */
  verbose: boolean;
  /**
   * Phases at whose start the agent takes over the terminal: the renderer goes
   * quiet for good, so no spinner frame lands in the agent's screen.
   */
  handOverPhases: ReadonlySet<PhaseName>;
}

/** A spinner on an interactive terminal; plain lines in CI, in logs and through pipes. */
export async function createProgressRenderer(options: RendererOptions): Promise<ProgressRenderer> {
  // A terminal that reports no width (a pty nobody sized, some consoles) cannot redraw a line in place.
  if (options.stream.isTTY && options.stream.columns > 0 && !isCI(options.env) && options.env.TERM !== "dumb") {
    const { SpinnerRenderer } = await import("./spinner.js");
    return new SpinnerRenderer(options);
  }
  return new PlainRenderer(options);
}

function isCI(env: RendererOptions["env"]): boolean {
  const value = env.CI;
  return value !== undefined && value !== "" && value !== "0" && value.toLowerCase() !== "false";
}
