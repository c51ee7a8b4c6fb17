import { constants, createWriteStream } from "node:fs";
import { open, readFile, stat } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import {
  BottleError,
  ErrorCodes,
  abortedError,
  bottleNotFoundError,
  bottleNotRunningError,
  bottleRunningError,
  phase,
  type Stdio,
  Labels,
  WORKSPACE_TARGET,
  type BackendContext,
  type BottleInfo,
  type BottleState,
  type ExecOptions,
  type LogsOptions,
} from "@claude-bottle/core";
import { reapOrphanedMachines } from "../attached-machine.js";
import { runAttached } from "../attached-process.js";
import { bottleLogPaths, followBottleLogs, loadGuard, removeBottleLogs, writeBottleLogs } from "../bottle-logs.js";
import { machineDenials } from "../egress/denials.js";
import { guestEnvironment } from "../environment.js";
import { restoreAndWarn } from "../host-guard.js";
import { BACKEND_NAME, PASSTHROUGH_LABEL } from "../launch.js";
import type { Smolvm } from "./locate.js";
import { runSmolvm, smolvmFailure } from "./run.js";

/** One object of `smolvm machine ls --json`, the fields this backend reads. */
export interface MachineRecord {
  name: string;
  state: string;
  labels?: Record<string, string> | null;
  /** An RFC 3339 string (1.9.x) or seconds since the epoch (newer releases); see SMOLVM.md. */
  created_at?: string | number | null;
  /** Whether it has a network (both releases print it). */
  network?: boolean;
}

/**
 * smolvm's machine states (SMOLVM.md, "States") as bottle states. A state on
 * its way somewhere counts as where it is going: `pausing` is paused already
 * for anyone who wants to exec into it. Only a state smolvm adds later is `unknown`.
 */
export const MACHINE_STATES: Readonly<Record<string, BottleState>> = {
  created: "created",
  creating: "created",
  starting: "running",
  running: "running",
  stopping: "stopped",
  stopped: "stopped",
  failed: "failed",
  unreachable: "failed",
  frozen: "paused",
  pausing: "paused",
  paused: "paused",
  resuming: "running",
};

export function bottleStateOf(state: string): BottleState {
  return MACHINE_STATES[state.toLowerCase()] ?? "unknown";
}

/** `created_at` as ISO 8601, whether smolvm wrote it as a string or as a number of seconds. */
export function createdAtIso(value: string | number | null | undefined): string {
  const fromNumber = (n: number) => new Date(n > 1e12 ? n : n * 1000);
  let date: Date | undefined;
  if (typeof value === "number" && Number.isFinite(value)) date = fromNumber(value);
  else if (typeof value === "string" && /^\d+(\.\d+)?$/.test(value.trim())) date = fromNumber(Number(value));
  else if (typeof value === "string") date = new Date(value);
  return date && !Number.isNaN(date.getTime()) ? date.toISOString() : new Date(0).toISOString();
}

/** The machines of this backend, from smolvm's JSON (never its table). */
export async function listMachines(smolvm: Smolvm, ctx: BackendContext): Promise<MachineRecord[]> {
  const output = await runSmolvm(smolvm, ["machine", "ls", "--json"], { signal: ctx.signal });
  let parsed: unknown;
  try {
    parsed = JSON.parse(output.trim() || "[]");
  } catch {
    throw smolvmFailure(smolvm, ["machine", "ls", "--json"], `Error: output is not JSON: ${output.slice(0, 200)}`, 0);
  }
  if (!Array.isArray(parsed)) throw smolvmFailure(smolvm, ["machine", "ls", "--json"], "Error: output is not a JSON array", 0);
  const ours = (parsed as MachineRecord[]).filter((m) => m.labels?.[Labels.backend] === BACKEND_NAME);
  // An attached bottle's machine whose CLI was killed goes with the next look.
  return reapOrphanedMachines(smolvm, ours, ctx);
}

export function toBottleInfo(machine: MachineRecord): BottleInfo {
  return {
    name: machine.name,
    agent: machine.labels?.[Labels.agent] ?? "",
    backend: BACKEND_NAME,
    state: bottleStateOf(machine.state),
    workspace: machine.labels?.[Labels.workspace] ?? "",
    created: createdAtIso(machine.created_at),
  };
}

/** A bottle of this backend by name; anything else, including another tool's machine, is BOTTLE_NOT_FOUND. */
export async function findMachine(smolvm: Smolvm, name: string, ctx: BackendContext): Promise<MachineRecord> {
  const machine = (await listMachines(smolvm, ctx)).find((m) => m.name === name);
  if (!machine) throw bottleNotFoundError(BACKEND_NAME, name);
  return machine;
}

/** Running, or paused on the way: a machine `stop` has something to do to. */
function isUp(machine: MachineRecord): boolean {
  const state = bottleStateOf(machine.state);
  return state === "running" || state === "paused";
}

export async function stopMachine(smolvm: Smolvm, name: string, ctx: BackendContext): Promise<void> {
  const machine = await findMachine(smolvm, name, ctx);
  if (isUp(machine)) await runSmolvm(smolvm, ["machine", "stop", "--name", name], { signal: ctx.signal });
  await restoreAndWarn(await loadGuard(ctx.cacheDir, name), ctx);
}

export async function removeMachine(smolvm: Smolvm, name: string, force: boolean, ctx: BackendContext): Promise<void> {
  const machine = await findMachine(smolvm, name, ctx);
  if (isUp(machine)) {
    if (!force) throw bottleRunningError(name);
    await runSmolvm(smolvm, ["machine", "stop", "--name", name], { signal: ctx.signal });
  }
  // Without -f, 1.9.x asks and at end of input deletes nothing (exit 0); newer releases refuse a non-terminal (SMOLVM.md, "delete").
  await runSmolvm(smolvm, ["machine", "delete", "--name", name, "-f"], { signal: ctx.signal });
  await restoreAndWarn(await loadGuard(ctx.cacheDir, name), ctx);
  await removeBottleLogs(ctx.cacheDir, name);
}

export async function machineLogs(smolvm: Smolvm, name: string, opts: LogsOptions, ctx: BackendContext): Promise<void> {
  const machine = await findMachine(smolvm, name, ctx);
  if (opts.egress) return machineDenials(smolvm, machine, opts, () => listMachines(smolvm, ctx).then((all) => all.some((m) => m.name === name && isUp(m))), ctx.signal);
  // Ctrl-C ends a follow as the end of the bottle does: what was printed has been written.
  const stillRunning = async () =>
    (await listMachines(smolvm, ctx).catch((error: unknown) => (ctx.signal.aborted ? [] : Promise.reject(error)))).some(
      (m) => m.name === name && isUp(m),
    );
  await writeBottleLogs(ctx.cacheDir, name, opts, stillRunning, ctx.signal);
}

/**
 * Runs a command in a running bottle, in /workspace, with the same
 * passthrough variables its agent gets (their names are on the machine's
 * label; the values come from this host's environment now).
 */
export async function execInMachine(smolvm: Smolvm, name: string, opts: ExecOptions, ctx: BackendContext): Promise<number> {
  const machine = await findMachine(smolvm, name, ctx);
  if (bottleStateOf(machine.state) !== "running") {
    throw bottleNotRunningError(name, machine.state, { hint: "Start a new bottle, or exec into one that is running (claude-bottle ls)." });
  }
  const names = (machine.labels?.[PASSTHROUGH_LABEL] ?? "").split(",").filter(Boolean);
  const env = guestEnvironment(
    names.map((n) => ({ name: n, passthrough: true as const })),
    ctx.env,
  );
  const tty = opts.stdio.stdin.isTTY === true;
  const args = ["machine", "exec", "--name", name, "-i", ...(tty ? ["-t"] : []), "-w", WORKSPACE_TARGET, ...env.args, "--", ...opts.command];
  const result = await runAttached(smolvm.path, args, { stdio: opts.stdio, env: env.values, signal: ctx.signal });
  return result.exitCode;
}

const ATTACH_POLL_MS = 100;
/** How often an attach asks smolvm whether the machine is still up (the exit file normally says first). */
const ATTACH_STATE_EVERY_MS = 2_000;

async function exitCodeOf(path: string): Promise<number | undefined> {
  const text = await readFile(path, "utf8").catch(() => undefined);
  const code = text === undefined ? NaN : Number.parseInt(text.trim(), 10);
  return Number.isInteger(code) ? code : undefined;
}

/**
 * Connects `stdio` to a detached bottle's command: what it prints from now
 * on, and stdin into its input FIFO (see DETACHED_SCRIPT in launch.ts).
 * Resolves with the command's exit code when it ends. Ctrl-C (the signal)
 * leaves the bottle running and throws ABORTED; the end of our stdin leaves
 * the command's input open, for the next attach.
 */
export async function attachToMachine(smolvm: Smolvm, name: string, stdio: Stdio, ctx: BackendContext): Promise<number> {
  const paths = bottleLogPaths(ctx.cacheDir, name);
  const { input, follower } = await phase(ctx, "attach", `Attaching to ${name}`, async () => {
    const machine = await findMachine(smolvm, name, ctx);
    const ended = await exitCodeOf(paths.exit);
    if (ended !== undefined || bottleStateOf(machine.state) !== "running") {
      throw bottleNotRunningError(name, `${machine.state}${ended !== undefined ? ` (its command exited with ${ended})` : ""}`);
    }
    const fifo = await stat(paths.stdin).catch(() => undefined);
    if (!fifo?.isFIFO()) {
      throw new BottleError(ErrorCodes.UNSUPPORTED, `The bottle ${name} has no input pipe in ${paths.stdin}, so it cannot be attached to.`, {
        hint: "It was started by an older claude-bottle or with another cache directory (XDG_CACHE_HOME); use `claude-bottle logs -f` and `exec` instead.",
      });
    }
    // Read and write: never blocks on open, and the command's end of input stays with DETACHED_SCRIPT.
    const handle = await open(paths.stdin, constants.O_RDWR);
    return { input: handle, follower: await followBottleLogs(ctx.cacheDir, name, stdio, "end") };
  });
  const toCommand = createWriteStream("", { fd: input.fd, autoClose: false });
  toCommand.on("error", () => {});
  stdio.stdin.pipe(toCommand, { end: false });
  try {
    let lastStateCheck = Date.now();
    for (;;) {
      await follower.drain();
      const code = await exitCodeOf(paths.exit);
      if (code !== undefined) {
        await follower.drain();
        return code;
      }
      if (ctx.signal.aborted) throw abortedError(ctx.signal.reason);
      if (Date.now() - lastStateCheck >= ATTACH_STATE_EVERY_MS) {
        lastStateCheck = Date.now();
        const machine = (await listMachines(smolvm, ctx)).find((m) => m.name === name);
        if (!machine || !isUp(machine)) {
          await follower.drain();
          const late = await exitCodeOf(paths.exit);
          if (late !== undefined) return late;
          throw new BottleError(ErrorCodes.BOTTLE_NOT_RUNNING, `The bottle ${name} stopped (${machine?.state ?? "removed"}) without its command's exit code.`, {
            hint: `See its output with \`claude-bottle logs ${name}\`.`,
          });
        }
      }
      await sleep(ATTACH_POLL_MS, undefined, { signal: ctx.signal }).catch(() => {});
    }
  } finally {
    stdio.stdin.unpipe(toCommand);
    toCommand.destroy();
    await input.close().catch(() => {});
  }
}
