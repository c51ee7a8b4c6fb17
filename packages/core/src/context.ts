/**
 * Named steps of a start. Backends may report their own names too; these are
 * the ones the CLI knows how to label. The host emits `backend-load`,
 * `agent-resolve` and `prepare` itself. A backend opens `start` or `attach`
 * just before the agent takes the terminal: the host clears its progress
 * display then, and `--timing` counts "ready" from there.
 */
export type PhaseName =
  | "backend-load"
  | "agent-resolve"
  | "prepare"
  | "build"
  | "cache-check"
  | "registry-up"
  | "push"
  | "pack"
  | "registry-down"
  | "create"
  | "start"
  | "attach"
  | (string & {});

/** What a backend reports while it works. Backends never print: the host renders these. */
export type ProgressEvent =
  | { type: "phase-start"; phase: PhaseName; title: string; at: number }
  | { type: "phase-end"; phase: PhaseName; ok: boolean; at: number }
  /** Live detail of the running phase: a build step, bytes pushed of a total. */
  | { type: "progress"; phase: PhaseName; message: string; current?: number; total?: number }
  /** One line of output of a long step (build log), for plain renderers and --debug. */
  | { type: "output"; phase: PhaseName; line: string };

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
}

export interface BackendContext {
  /** Progress sink; the CLI renders it as spinners, plain lines or nothing. */
  emit(event: ProgressEvent): void;
  /** Fires on Ctrl-C or SIGTERM: stop work and clean up what was started. */
  signal: AbortSignal;
  /** A directory the backend may keep its cache in (it makes its own subfolder). */
  cacheDir: string;
  /** The environment to read passthrough variables and settings from. */
  env: Readonly<Record<string, string | undefined>>;
  /** The directory the user ran the command in. */
  cwd: string;
  logger: Logger;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {} };

/**
 * Runs `work` as a named phase: emits phase-start and phase-end (with ok=false
 * when it throws), so timings and progress come from one place.
 */
export async function phase<T>(
  ctx: Pick<BackendContext, "emit">,
  name: PhaseName,
  title: string,
  work: () => Promise<T>,
): Promise<T> {
  ctx.emit({ type: "phase-start", phase: name, title, at: performance.now() });
  try {
    const result = await work();
    ctx.emit({ type: "phase-end", phase: name, ok: true, at: performance.now() });
    return result;
  } catch (error) {
    ctx.emit({ type: "phase-end", phase: name, ok: false, at: performance.now() });
    throw error;
  }
}
