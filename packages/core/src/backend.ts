import type { BackendContext } from "./context.js";
import type { PublishedPort } from "./agent/ports.js";
import type { Enforcement } from "./enforcement.js";
import type { BottleSpec } from "./spec/bottle-spec.js";

/** The contract version this core speaks. A backend declares the one it implements. */
export const BACKEND_API_VERSION = 1 as const;

/**
 * The optional operations this core knows; a backend lists the ones it
 * implements in `capabilities`. Every one but `detach` is also the name of the
 * method that implements it (`homes` promises `removeHome` too).
 */
export const BACKEND_CAPABILITIES = ["detach", "list", "stop", "remove", "logs", "attach", "exec", "doctor", "homes", "restartProxy", "publish"] as const;

export type Capability = (typeof BACKEND_CAPABILITIES)[number];

/**
 * What prepare hands to launch. A backend extends it with its own fields and
 * sets `backend` to its own name (a literal type), so that `Backend<MyPrepared>`
 * needs no casts; the host checks `backend` against the backend's name before
 * it calls `launch`, so a value prepared by another backend never reaches it.
 *
 *   interface AcmePrepared extends Prepared<"acme"> { readonly image: string }
 *   const backend: Backend<AcmePrepared> = { name: "acme", ... };
 */
export interface Prepared<B extends string = string> {
  /** The name of the backend whose prepare made this: the same string as its `name`. Required: launch refuses a value without it. */
  readonly backend: B;
  /** The spec prepare was given, which launch starts. */
  readonly spec: BottleSpec;
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
  /**
   * A running bottle that lost a part it needs while the agent goes on (its egress
   * proxy died): one sentence saying what, for `ls`. Absent when nothing is wrong.
   */
  degraded?: string;
  /** Its ports on the user's loopback; absent when none is published. */
  ports?: PublishedPort[];
  /** The boundary below the container the bottle runs on (gvisor, runc), where the backend says. */
  isolation?: string;
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

export interface AttachOptions {
  stdio: Stdio;
}

/** Nothing yet: an object so that options can be added without a new contract version. */
export type StopOptions = Record<never, never>;

export interface RestartProxyOptions {
  /**
   * The value the host keeps for a credential variable (its environment, else
   * `claude-bottle login`'s store), for a proxy that injects credentials: its
   * values lived only in the dead proxy's memory. Asked only for the variables
   * the bottle's bindings name.
   */
  credential?(name: string): Promise<string | undefined>;
}

export interface PublishOptions {
  /** The bottle's port, and the port of the user's loopback it appears on. */
  port: PublishedPort;
}

export interface RemoveOptions {
  /** Stop a running bottle first, rather than refusing with BOTTLE_RUNNING. */
  force: boolean;
}

/**
 * The contract a backend implements. `P` is what its `prepare` returns and
 * its `launch` takes; every operation on an existing bottle takes
 * `(name, options, ctx)`.
 */
export interface Backend<P extends Prepared = Prepared> {
  /** Write the literal `1`: the version your code implements, whichever core is installed. */
  readonly apiVersion: typeof BACKEND_API_VERSION;
  readonly name: P["backend"];
  readonly capabilities: readonly Capability[];
  /**
   * What this backend keeps of a bottle's spec (`ENFORCEMENTS`). Core refuses,
   * before `prepare`, an agent that asks for one not listed here, so list only
   * what your code enforces: the conformance suite tries each one.
   */
  readonly enforces: readonly Enforcement[];

  /**
   * Before launch: translate the spec, build, fetch, pack (idempotent, cached).
   * The spec is resolved and checked by core: read it, never re-derive it.
   */
  prepare(spec: BottleSpec, ctx: BackendContext): Promise<P>;
  /**
   * Start the bottle named `prepared.spec.name` (NAME_CONFLICT when that name
   * is taken); attached (returns its exit code) or detached.
   */
  launch(prepared: P, opts: LaunchOptions, ctx: BackendContext): Promise<Launched>;

  /** Bottles of this backend only. */
  list?(ctx: BackendContext): Promise<BottleInfo[]>;
  stop?(name: string, opts: StopOptions, ctx: BackendContext): Promise<void>;
  /** Removes a bottle; `force` stops it first. */
  remove?(name: string, opts: RemoveOptions, ctx: BackendContext): Promise<void>;
  logs?(name: string, opts: LogsOptions, ctx: BackendContext): Promise<void>;
  /** Connects to a running bottle's main process; resolves with its exit code. */
  attach?(name: string, opts: AttachOptions, ctx: BackendContext): Promise<number>;
  /** Runs a command in a running bottle; resolves with its exit code. */
  exec?(name: string, opts: ExecOptions, ctx: BackendContext): Promise<number>;
  /** The homes this backend keeps (capability `homes`, which also promises `removeHome`). */
  homes?(ctx: BackendContext): Promise<HomeInfo[]>;
  /** Removes one home; a home a bottle still uses is refused. */
  removeHome?(name: string, ctx: BackendContext): Promise<void>;
  /**
   * Brings back a running bottle's egress proxy after it crashed or was killed, at the
   * address the bottle already uses, without touching the agent. Throws
   * BOTTLE_NOT_RUNNING for a bottle that does not run, UNSUPPORTED for one without a proxy.
   */
  restartProxy?(name: string, opts: RestartProxyOptions, ctx: BackendContext): Promise<void>;
  /**
   * Publishes a port of a running bottle on the user's loopback only (127.0.0.1
   * and [::1]). Throws PORT_IN_USE when the host port is taken, BOTTLE_NOT_RUNNING
   * for a bottle that does not run.
   */
  publish?(name: string, opts: PublishOptions, ctx: BackendContext): Promise<void>;
  /** Checks prerequisites; never throws for a missing one, reports it. */
  doctor?(ctx: BackendContext): Promise<DoctorCheck[]>;
}

/** What a backend package default-exports. */
export type BackendFactory<O = unknown, P extends Prepared = Prepared> = (options?: O) => Backend<P>;
