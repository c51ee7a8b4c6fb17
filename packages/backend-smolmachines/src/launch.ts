import { spawn } from "node:child_process";
import { rm } from "node:fs/promises";
import {
  BottleError,
  ErrorCodes,
  WORKSPACE_TARGET,
  abortedError,
  bottleLabels,
  phase,
  throwIfAborted,
  type BackendContext,
  type LaunchOptions,
  type Launched,
  type ReadOnlyOverlay,
  type BottleSpec,
  Labels,
} from "@claude-bottle/core";
import { execa } from "execa";
import { launchAttachedMachine, starterLabelArguments, startEnvironment, type MachineNetwork } from "./attached-machine.js";
import { runAttached } from "./attached-process.js";
import { bottleLogPaths, openBottleLogs, removeBottleLogs, saveGuard } from "./bottle-logs.js";
import { machineNetworkOf } from "./egress/machine-network.js";
import { guestEnvironment, passthroughNames } from "./environment.js";
import { guardHost, restoreAndWarn } from "./host-guard.js";
import { assertMountSources, hostControlOverlays, volumeArguments } from "./mounts.js";
import type { SmolmachinesPrepared } from "./pipeline/prepare.js";
import { listMachines } from "./smolvm/lifecycle.js";
import type { Smolvm } from "./smolvm/locate.js";
import { runSmolvm, smolvmErrorLines, smolvmFailure } from "./smolvm/run.js";

export const BACKEND_NAME = "smolmachines";

/** Label of a detached bottle listing the passthrough names (never values) that `exec` forwards again. */
export const PASSTHROUGH_LABEL = Labels.envPassthrough;

/**
 * The command the bottle runs. With a command in the recipe: it, its args,
 * the extra args. Without: the image's entrypoint, with the args in place of
 * the image's own command when there are any, as `docker run IMAGE args` does.
 */
export function bottleCommand(prepared: SmolmachinesPrepared, extraArgs: readonly string[]): string[] {
  const { spec } = prepared;
  const args = [...spec.args, ...extraArgs];
  if (spec.command) return [...spec.command, ...args];
  return [...prepared.imageEntrypoint, ...(args.length > 0 ? args : prepared.imageCmd)];
}

/**
 * `--net`, `--cpus` and `--mem` (MiB). Memory is always bounded, by the
 * recipe or claude-bottle's default (smolvm's own is 8 GiB whatever the host
 * has); a process limit needs nothing here, since a fork bomb stays inside
 * the VM's own kernel.
 */
export function resourceArguments(spec: Pick<BottleSpec, "network" | "resources">): string[] {
  const { resources } = spec;
  const args: string[] = [];
  if (spec.network) args.push("--net");
  if (resources.cpus !== undefined) args.push("--cpus", String(Math.max(1, Math.ceil(resources.cpus))));
  args.push("--mem", String(Math.max(1, Math.ceil(resources.memory / 2 ** 20))));
  return args;
}

/** `smolvm machine run --from …` for an attached, ephemeral bottle. */
export function machineRunArguments(
  prepared: SmolmachinesPrepared,
  envArgs: readonly string[],
  command: readonly string[],
  tty: boolean,
  overlays: readonly ReadOnlyOverlay[] = [],
): string[] {
  return [
    "machine",
    "run",
    "--from",
    prepared.artifact.machine,
    ...resourceArguments(prepared.spec),
    ...volumeArguments(prepared.spec, overlays),
    "-w",
    WORKSPACE_TARGET,
    ...envArgs,
    "-i",
    ...(tty ? ["-t"] : []),
    "--",
    ...command,
  ];
}

/**
 * `smolvm machine create` for a detached bottle, or an attached one with a
 * network policy: everything but the passthrough values, which go to `exec`.
 * `network` is the policy and credential flags (src/egress), which only
 * `create` takes.
 */
export function machineCreateArguments(
  prepared: SmolmachinesPrepared,
  name: string,
  literalEnvArgs: readonly string[],
  overlays: readonly ReadOnlyOverlay[] = [],
  network: readonly string[] = [],
): string[] {
  const { spec } = prepared;
  const labels: Record<string, string> = {
    ...bottleLabels(BACKEND_NAME, spec),
    [PASSTHROUGH_LABEL]: passthroughNames(spec.env).join(","),
  };
  return [
    "machine",
    "create",
    "--name",
    name,
    "--from",
    prepared.artifact.machine,
    ...resourceArguments(spec),
    ...network,
    ...volumeArguments(spec, overlays),
    ...literalEnvArgs,
    ...Object.entries(labels).flatMap(([key, value]) => ["--label", `${key}=${value}`]),
  ];
}

export async function launchSmolmachine(
  smolvm: Smolvm,
  prepared: SmolmachinesPrepared,
  opts: LaunchOptions,
  ctx: BackendContext,
): Promise<Launched> {
  throwIfAborted(ctx.signal);
  assertMountSources(prepared.spec);
  const { name } = prepared.spec;
  const command = bottleCommand(prepared, opts.extraArgs);
  if (command.length === 0) {
    throw new BottleError(ErrorCodes.AGENT_INVALID, `Agent "${prepared.spec.slug}" names no command and its image has none.`, {
      hint: `Add command: to ${prepared.spec.file ?? "the agent's recipe"}.`,
    });
  }
  const overlays = await hostControlOverlays(prepared.spec);
  const network = await machineNetworkOf(smolvm, prepared.spec, ctx.env);
  // A policy that admits nothing is a bottle without network, which says exactly that.
  if (!network && prepared.spec.network) prepared = { ...prepared, spec: { ...prepared.spec, network: false } };
  // A named machine (detached, or one with network), checked before anything is kept under the name (its guard, its logs):
  // a taken name is another bottle's. `machine run` of a bottle without network names none.
  if (opts.detach || network) await assertNameFree(smolvm, name, ctx);
  if (opts.detach) return launchDetached(smolvm, prepared, name, command, overlays, network, ctx);
  // smolvm's policy flags are refused by `run --from`: a bottle with network is a machine while it runs.
  if (network) return launchAttachedMachine(smolvm, prepared, name, command, overlays, network, opts, ctx);

  const env = guestEnvironment(prepared.spec.env, ctx.env);
  const args = machineRunArguments(prepared, env.args, command, opts.stdio.stdin.isTTY === true, overlays);
  const guarded = await guardHost(prepared.spec, overlays);
  // The start phase ends when smolvm is running, so the host knows when the agent takes over the terminal.
  let spawned = () => {};
  const started = phase(ctx, "start", `Starting ${name}`, () => new Promise<void>((resolve) => (spawned = resolve)));
  const run = await runAttached(smolvm.path, args, { stdio: opts.stdio, env: env.values, signal: ctx.signal, onSpawn: () => spawned() }).finally(
    () => restoreAndWarn(guarded, ctx),
  );
  spawned(); // a process that never spawned still ends the phase
  await started;
  if (run.canceled) throw abortedError(ctx.signal.reason);
  if (isSmolvmOwnFailure(run.exitCode, run.stderrTail)) throw smolvmFailure(smolvm, args, run.stderrTail, run.exitCode);
  return { detached: false, name, exitCode: run.exitCode };
}

/**
 * smolvm's own failures are exit 1 (2 for usage) with `Error: …` on stderr (SMOLVM.md),
 * but the guest may exit 1 too. Only a stderr made of nothing but such lines
 * is taken as smolvm's; anything else is the guest's exit code.
 */
export function isSmolvmOwnFailure(exitCode: number, stderr: string): boolean {
  const lines = stderr.split("\n").filter((line) => line.trim() !== "");
  return (exitCode === 1 || exitCode === 2) && lines.length > 0 && smolvmErrorLines(stderr).length === lines.length;
}

/**
 * The host side of a detached bottle, run by `/bin/sh` in the background:
 * `$0` is smolvm, `$1` the machine, `$2` the input FIFO, `$3` the exit-code
 * file, the rest the `machine exec` command line. The FIFO is held open for
 * reading and writing, so the command never sees the end of its input while
 * `attach`es come and go (as a container created with an open stdin). When
 * the command ends, its code is written (renamed into place, so a reader
 * never sees half of it) and the machine is stopped, as a container stops
 * with its main process. `create --stop-on-exit` (newer smolvm) does not
 * replace this: it stops the machine when the machine's workload ends, not an
 * exec (SMOLVM.md, "Detached bottles").
 */
export const DETACHED_SCRIPT = [
  'bin="$0" name="$1" input="$2" exitfile="$3"; shift 3',
  'exec 3<>"$input"',
  '"$bin" "$@" <&3 3<&-; code=$?',
  "exec 3<&-",
  'printf "%s\\n" "$code" > "$exitfile.tmp" && mv -f "$exitfile.tmp" "$exitfile"',
  'rm -f "$input"',
  '"$bin" machine stop --name "$name" >/dev/null 2>&1',
  "exit $code",
].join("\n");

/**
 * A detached bottle is a named machine (create + start) whose command runs
 * through `machine exec -i` in a background process of its own (see
 * DETACHED_SCRIPT): its output goes to the bottle's log files as it is
 * printed (an interactive exec streams; a plain one would hand everything
 * over only at the end, SMOLVM.md "exec output"), its input comes from a FIFO
 * that `attach` writes to. Literal variables are given to `create`;
 * passthrough values only ever reach the exec process's environment, so
 * smolvm stores none of them.
 */
/** NAME_CONFLICT when a machine of that name exists: the contract's promise, and what keeps its files untouched. */
async function assertNameFree(smolvm: Smolvm, name: string, ctx: BackendContext): Promise<void> {
  if ((await listMachines(smolvm, ctx)).some((machine) => machine.name === name)) {
    throw new BottleError(ErrorCodes.NAME_CONFLICT, `A machine called ${name} already exists.`, { hint: "Start again: the next bottle gets another name." });
  }
}

async function launchDetached(
  smolvm: Smolvm,
  prepared: SmolmachinesPrepared,
  name: string,
  command: readonly string[],
  overlays: readonly ReadOnlyOverlay[],
  network: MachineNetwork | undefined,
  ctx: BackendContext,
): Promise<Launched> {
  const literals = guestEnvironment(prepared.spec.env.filter((e) => !e.passthrough), {});
  const passthroughs = guestEnvironment(prepared.spec.env.filter((e) => e.passthrough), ctx.env);
  await saveGuard(ctx.cacheDir, name, await guardHost(prepared.spec, overlays));
  await phase(ctx, "create", `Creating ${name}`, () =>
    // Labelled with this start: if it dies before starting the machine, the next command removes the machine (attached-machine.ts).
    runSmolvm(smolvm, [...machineCreateArguments(prepared, name, literals.args, overlays, network?.args), ...starterLabelArguments()], {
      signal: ctx.signal,
      env: network?.env,
    }),
  );
  try {
    await phase(ctx, "start", `Starting ${name}`, () =>
      runSmolvm(smolvm, ["machine", "start", "--name", name], { signal: ctx.signal, env: startEnvironment(network) }),
    );
    const logs = await openBottleLogs(ctx.cacheDir, name);
    const { stdin, exit } = bottleLogPaths(ctx.cacheDir, name);
    const execArgs = ["machine", "exec", "--name", name, "-i", "-w", WORKSPACE_TARGET, ...passthroughs.args, "--", ...command];
    try {
      await makeFifo(stdin);
      const { SMOLVM_MACHINE_NAME: _ignored, ...env } = process.env;
      const child = spawn("/bin/sh", ["-c", DETACHED_SCRIPT, smolvm.path, name, stdin, exit, ...execArgs], {
        detached: true,
        stdio: ["ignore", logs.stdout, logs.stderr],
        env: { ...env, ...passthroughs.values },
      });
      child.unref();
    } finally {
      await logs.close();
    }
    return { detached: true, name };
  } catch (error) {
    await runSmolvm(smolvm, ["machine", "delete", "--name", name, "-f"]).catch(() => {});
    await removeBottleLogs(ctx.cacheDir, name).catch(() => {});
    throw error;
  }
}

/** A FIFO only its owner may use (`mkfifo`, on Linux and macOS alike). */
async function makeFifo(path: string): Promise<void> {
  await rm(path, { force: true });
  const made = await execa("mkfifo", ["-m", "600", path], { reject: false });
  if (made.exitCode !== 0) {
    throw new BottleError(ErrorCodes.UNSUPPORTED, `Cannot make the bottle's input pipe ${path}: ${made.stderr || made.shortMessage}`, {
      hint: "mkfifo (coreutils) must be on PATH, and the cache directory on a filesystem that holds FIFOs.",
    });
  }
}
