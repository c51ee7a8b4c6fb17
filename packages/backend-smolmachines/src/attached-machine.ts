import { hostname } from "node:os";
import {
  WORKSPACE_TARGET,
  abortedError,
  phase,
  type BackendContext,
  type Launched,
  type LaunchOptions,
  type ReadOnlyOverlay, isProcessAlive,
  Labels,
} from "@claude-bottle/core";
import { runAttached, type AttachedResult } from "./attached-process.js";
import { loadGuard, removeBottleLogs, saveGuard } from "./bottle-logs.js";
import { guestEnvironment } from "./environment.js";
import { guardHost, restoreAndWarn } from "./host-guard.js";
import { isSmolvmOwnFailure, machineCreateArguments } from "./launch.js";
import type { SmolmachinesPrepared } from "./pipeline/prepare.js";
import { RegistryLabels } from "./registry/local-registry.js";
import type { Smolvm } from "./smolvm/locate.js";
import { runSmolvm, smolvmFailure } from "./smolvm/run.js";

/**
 * The process that owns an attached bottle's machine, on the machine's
 * labels (the same keys as a registry's): when it is gone, so must the
 * machine be. A detached bottle has no owner.
 */
export const OwnerLabels = { pid: RegistryLabels.ownerPid, host: RegistryLabels.ownerHost } as const;

/**
 * On a detached bottle's machine: the `start` that creates it. The machine
 * outlives that start by design once started; one still `created` when its
 * start is gone was never handed to anyone, and the next command removes it.
 */
export const StarterLabels = { pid: Labels.starterPid, host: Labels.starterHost } as const;

/** smolvm's states of a machine that was made and not yet started (smolvm/lifecycle.ts maps them to "created"). */
const NEVER_STARTED = new Set(["created", "creating"]);

export function starterLabelArguments(): string[] {
  return ["--label", `${StarterLabels.pid}=${process.pid}`, "--label", `${StarterLabels.host}=${hostname()}`];
}

/** What the machine needs beyond a bottle without network: smolvm's flags and the environment it boots in. */
export interface MachineNetwork {
  /** `--allow-cidr`, `--allow-host-pattern`, `--credential` for `machine create`. */
  args: readonly string[];
  /** The egress floor: smolvm's environment at create and start. */
  env: Readonly<Record<string, string | undefined>>;
  /**
   * The credential values, for smolvm's environment at start only, never an
   * argument: the machine's process reads them when a request to a bound
   * host goes out; create records the bindings and placeholders only.
   */
  credentials: Readonly<Record<string, string>>;
}

/** smolvm's environment for `machine start`: the floor, and the credential values its machine will inject. */
export const startEnvironment = (network: MachineNetwork | undefined) => network && { ...network.env, ...network.credentials };

/**
 * An attached bottle with a network policy. `machine run --from` refuses
 * smolvm's policy flags (SMOLVM.md), so the bottle is a named machine for as
 * long as it runs: create (labelled with this process as its owner) → start
 * → `exec -i [-t]` connected to the terminal → `delete -f`. Ctrl-C deletes it
 * as the end of the command does; a CLI killed outright leaves it to the next
 * command, which removes every machine whose owner is gone
 * ({@link reapOrphanedMachines}). Passthrough values reach only the exec's
 * environment, as for a detached bottle.
 */
export async function launchAttachedMachine(
  smolvm: Smolvm,
  prepared: SmolmachinesPrepared,
  name: string,
  command: readonly string[],
  overlays: readonly ReadOnlyOverlay[],
  network: MachineNetwork,
  opts: LaunchOptions,
  ctx: BackendContext,
): Promise<Launched> {
  const literals = guestEnvironment(prepared.spec.env.filter((e) => !e.passthrough), {});
  const passthroughs = guestEnvironment(prepared.spec.env.filter((e) => e.passthrough), ctx.env);
  const guarded = await guardHost(prepared.spec, overlays);
  // Kept on disk too: whoever reaps the machine of a killed CLI puts the files back.
  await saveGuard(ctx.cacheDir, name, guarded);
  const owner = ["--label", `${OwnerLabels.pid}=${process.pid}`, "--label", `${OwnerLabels.host}=${hostname()}`];
  const create = [...machineCreateArguments(prepared, name, literals.args, overlays, network.args), ...owner];
  try {
    await phase(ctx, "create", `Creating ${name}`, () => runSmolvm(smolvm, create, { signal: ctx.signal, env: network.env }));
    const tty = opts.stdio.stdin.isTTY === true;
    const exec = ["machine", "exec", "--name", name, "-i", ...(tty ? ["-t"] : []), "-w", WORKSPACE_TARGET, ...passthroughs.args, "--", ...command];
    // The start phase ends when the command is running, so the host knows when the agent takes over the terminal.
    let spawned = () => {};
    const execSpawned = new Promise<void>((resolve) => (spawned = resolve));
    let running: Promise<AttachedResult> | undefined;
    await phase(ctx, "start", `Starting ${name}`, async () => {
      await runSmolvm(smolvm, ["machine", "start", "--name", name], { signal: ctx.signal, env: startEnvironment(network) });
      running = runAttached(smolvm.path, exec, { stdio: opts.stdio, env: passthroughs.values, signal: ctx.signal, onSpawn: () => spawned() });
      await Promise.race([execSpawned, running]); // a process that never spawned ends the phase too
    });
    const run = await running!;
    if (run.canceled) throw abortedError(ctx.signal.reason);
    if (isSmolvmOwnFailure(run.exitCode, run.stderrTail)) throw smolvmFailure(smolvm, exec, run.stderrTail, run.exitCode);
    return { detached: false, name, exitCode: run.exitCode };
  } finally {
    // Whatever ended it (the command, an error, Ctrl-C): the machine goes, then the host's files are put back.
    await runSmolvm(smolvm, ["machine", "delete", "--name", name, "-f"]).catch(() => {});
    await restoreAndWarn(guarded, ctx);
    await removeBottleLogs(ctx.cacheDir, name).catch(() => {});
  }
}


/** Whether a machine is an attached bottle's whose CLI, on this host, is gone, or a detached one its gone start never started. */
export function isOrphaned(labels: Readonly<Record<string, string>> | null | undefined, state?: string): boolean {
  const gone = (keys: { pid: string; host: string }) => {
    const pid = Number(labels?.[keys.pid] ?? NaN);
    return Number.isInteger(pid) && pid > 0 && labels?.[keys.host] === hostname() && !isProcessAlive(pid);
  };
  return gone(OwnerLabels) || (NEVER_STARTED.has(state?.toLowerCase() ?? "") && gone(StarterLabels));
}

/**
 * Deletes the machines of attached bottles whose CLI was killed (SIGKILL, a
 * crash) before it could, and puts back the host files each one guarded;
 * returns the others. Every command that lists machines runs it, so the
 * next command after a kill leaves nothing behind.
 */
export async function reapOrphanedMachines<M extends { name: string; state?: string; labels?: Record<string, string> | null }>(
  smolvm: Smolvm,
  machines: readonly M[],
  ctx: Pick<BackendContext, "cacheDir" | "logger">,
): Promise<M[]> {
  const orphans = machines.filter((m) => isOrphaned(m.labels, m.state));
  for (const machine of orphans) {
    ctx.logger.debug(`removing ${machine.name}: the claude-bottle that ran it (pid ${machine.labels?.[OwnerLabels.pid]}) is gone`);
    await runSmolvm(smolvm, ["machine", "delete", "--name", machine.name, "-f"]).catch(() => {});
    await restoreAndWarn(await loadGuard(ctx.cacheDir, machine.name), ctx);
    await removeBottleLogs(ctx.cacheDir, machine.name).catch(() => {});
  }
  return machines.filter((m) => !orphans.includes(m));
}
