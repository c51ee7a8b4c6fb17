import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import type { BackendContext, Logger, PhaseName, ProgressEvent } from "@claude-bottle/core";
import { printable, printableLine } from "./render/printable.js";
import { createProgressRenderer, type ProgressRenderer } from "./render/progress.js";
import { QuietRenderer } from "./render/quiet.js";
import { TimingRecorder } from "./render/timing.js";

/** The options every command accepts. */
export interface GlobalOptions {
  debug?: boolean;
  backend?: string;
}

/** What an action gets from the command line and the process. */
export interface CommandEnvironment {
  globals: GlobalOptions;
  /** Aborted on Ctrl-C, SIGTERM, a hang-up, or when our output's reader goes away. */
  signal: AbortSignal;
}

export interface SessionOptions {
  /** Phases at which the agent takes over the terminal (see RendererOptions). */
  handOverPhases?: ReadonlySet<PhaseName>;
  /** Record phase durations for --timing. */
  timing?: boolean;
  /**
   * Show progress: a spinner, or plain lines without a terminal. `start` does,
   * since its phases can take minutes; the quick commands (ls, stop...) do
   * not, so they load no spinner library and print exactly what was asked for.
   */
  progress?: boolean;
}

/** One command's run: the context handed to the backend, and what renders its events. */
export interface Session {
  context: BackendContext;
  renderer: ProgressRenderer;
  timing?: TimingRecorder;
  globals: GlobalOptions;
}

/**
 * Runs `work` with a backend context whose events go to the renderer (and
 * the timing recorder), and stops the renderer whatever happens, so an error
 * report is never drawn over by a spinner.
 */
export async function withSession<T>(
  environment: CommandEnvironment,
  options: SessionOptions,
  work: (session: Session) => Promise<T>,
): Promise<T> {
  const env = process.env;
  const renderer = options.progress
    ? await createProgressRenderer({
        stream: process.stderr,
        env,
        verbose: environment.globals.debug === true,
        handOverPhases: options.handOverPhases ?? new Set(),
      })
    : new QuietRenderer(process.stderr);
  const timing = options.timing ? new TimingRecorder() : undefined;
  const emit = (event: ProgressEvent) => {
    timing?.handle(event);
    renderer.handle(printableEvent(event));
  };
  const context: BackendContext = {
    emit,
    signal: environment.signal,
    cacheDir: cacheDir(env),
    env,
    cwd: process.cwd(),
    logger: createLogger(renderer, environment.globals.debug === true),
  };
  try {
    return await work({ context, renderer, timing, globals: environment.globals });
  } finally {
    renderer.stop();
  }
}

/** $XDG_CACHE_HOME/claude-bottle, else ~/.cache/claude-bottle (the XDG spec ignores a relative value). */
export function cacheDir(env: Readonly<Record<string, string | undefined>>): string {
  const base = env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : join(homedir(), ".cache");
  return join(base, "claude-bottle");
}

function createLogger(renderer: ProgressRenderer, debug: boolean): Logger {
  return {
    debug: (message) => {
      if (debug) renderer.log(`debug: ${printable(message)}`);
    },
    info: (message) => renderer.log(printable(message)),
    warn: (message) => renderer.log(`warning: ${printable(message)}`),
  };
}

/** Build output and step titles carry text from the project's Dockerfile and context: printable only. */
function printableEvent(event: ProgressEvent): ProgressEvent {
  switch (event.type) {
    case "phase-start":
      return { ...event, title: printableLine(event.title) };
    case "progress":
      return { ...event, message: printableLine(event.message) };
    case "output":
      return { ...event, line: printableLine(event.line) };
    default:
      return event;
  }
}
