import type { ResolvedAgent } from "./agent/model.js";
import type { BackendContext } from "./context.js";

/** The contract version this core speaks. A backend declares the one it implements. */
export const BACKEND_API_VERSION = 1 as const;

/** Optional operations; a backend lists the ones it implements in `capabilities`. */
export type Capability = "detach" | "list" | "stop" | "remove" | "logs" | "attach" | "exec" | "doctor" | "homes";

export const ALL_CAPABILITIES: readonly Capability[] = [
  "detach",
  "list",
  "stop",
  "remove",
  "logs",
  "attach",
  "exec",
  "doctor",
  "homes",
];

/** What prepare hands to launch. Backends put their own fields beside these. */
export interface Prepared {
  readonly agent: ResolvedAgent;
  readonly [key: string]: unknown;
}

/**
 * The terminal and streams the bottle is connected to. When `stdin.isTTY` is
 * true the backend allocates a TTY, puts stdin in raw mode and follows
 * `stdout`'s size; otherwise stdout and stderr are kept apart and stdin piped.
 */
export interface Stdio {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };
  stderr: NodeJS.WritableStream;
}

export interface LaunchOptions {
  /** Appended after the agent's own args. */
  extraArgs: readonly string[];
  /** Leave the bottle running and return at once (needs the `detach` capability). */
  detach: boolean;
  stdio: Stdio;
  /**
   * The bottle's name, chosen by the host (which keeps state under it before
   * the bottle exists). A backend that is given one names the bottle exactly
   * so, and fails with `NAME_CONFLICT` when it is taken; without one it makes
   * its own (`bottleName`).
   */
  name?: string;
}

export type Launched =
  | { detached: false; name: string; exitCode: number }
  | { detached: true; name: string };

export type BottleState = "created" | "running" | "paused" | "stopped" | "failed" | "unknown";

/** One bottle as `ls` shows it. */
export interface BottleInfo {
  name: string;
  agent: string;
  backend: string;
  state: BottleState;
  workspace: string;
  /** ISO 8601. */
  created: string;
}

/** A home that outlives bottles (logins, settings), kept per agent and per project. */
export interface HomeInfo {
  /** What `removeHome` takes. */
  name: string;
  agent: string;
  /** The project's real path; empty for a home from before homes were per project. */
  project: string;
}

export interface DoctorCheck {
  name: string;
  ok: boolean;
  /** What was found, or what is wrong. */
  detail: string;
  /** What to do when not ok. */
  hint?: string;
}

export interface LogsOptions {
  follow: boolean;
  /**
   * The connections the bottle's egress policy refused, one JSON object a
   * line (`{ time, host, port, reason, detail }`), instead of its output. A
   * backend that enforces no policy throws UNSUPPORTED.
   */
  egress?: boolean;
  stdio: Pick<Stdio, "stdout" | "stderr">;
}

export interface ExecOptions {
  command: readonly string[];
  stdio: Stdio;
}

export interface Backend {
  readonly apiVersion: typeof BACKEND_API_VERSION;
  readonly name: string;
  readonly capabilities: readonly Capability[];

  /** Once per agent before launch: validate, build, fetch, pack. Idempotent, cached. */
  prepare(agent: ResolvedAgent, ctx: BackendContext): Promise<Prepared>;
  /** Start a bottle from what prepare returned; attached (returns its exit code) or detached. */
  launch(prepared: Prepared, opts: LaunchOptions, ctx: BackendContext): Promise<Launched>;

  /** Bottles of this backend only. */
  list?(ctx: BackendContext): Promise<BottleInfo[]>;
  stop?(name: string, ctx: BackendContext): Promise<void>;
  /** Removes a bottle; `force` stops it first. */
  remove?(name: string, opts: { force: boolean }, ctx: BackendContext): Promise<void>;
  logs?(name: string, opts: LogsOptions, ctx: BackendContext): Promise<void>;
  /** Connects to a running bottle's main process; resolves with its exit code. */
  attach?(name: string, stdio: Stdio, ctx: BackendContext): Promise<number>;
  /** Runs a command in a running bottle; resolves with its exit code. */
  exec?(name: string, opts: ExecOptions, ctx: BackendContext): Promise<number>;
  /** The homes this backend keeps (capability `homes`, which also promises `removeHome`). */
  homes?(ctx: BackendContext): Promise<HomeInfo[]>;
  /** Removes one home; a home a bottle still uses is refused. */
  removeHome?(name: string, ctx: BackendContext): Promise<void>;
  /** Checks prerequisites; never throws for a missing one, reports it. */
  doctor?(ctx: BackendContext): Promise<DoctorCheck[]>;
}

/** What a backend package default-exports. */
export type BackendFactory<O = unknown> = (options?: O) => Backend;
