import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import {
  assertAgentPaths,
  BottleError,
  ErrorCodes,
  phase,
  pinnedDirectories,
  prepareHostControls,
  readOnlyOverlays,
  throwIfAborted,
  WORKSPACE_TARGET,
  type Backend,
  type BackendContext,
  type ImageSource,
  type Launched,
  type LaunchOptions,
  type Mount,
  type Prepared,
  type BottleSpec,
} from "@claude-bottle/core";
import { bwrapArgs } from "./bwrap-args.js";
import { doctorChecks } from "./doctor.js";
import { readHostLayout } from "./host-layout.js";
import { requireBwrap } from "./locate-bwrap.js";
import { sandboxEnv } from "./sandbox-env.js";
import { ttyInjectionFilter } from "./seccomp-filter.js";
import { SECCOMP_FD, startSandbox, usesProcessTerminal } from "./start-sandbox.js";

export interface BubblewrapBackendOptions {
  /** The bwrap executable, a path or a name on PATH. Default: CLAUDE_BOTTLE_BWRAP, else `bwrap`. */
  bwrap?: string;
}

/**
 * What prepare hands to launch: the agent, the bwrap found, and the agent's
 * home on the host. `backend` is this backend's name, so the host can check
 * that launch is given what this prepare made, and launch needs no casts.
 */
export interface BubblewrapPrepared extends Prepared<"bubblewrap"> {
  readonly bwrap: string;
  /** Binds laid over the workspace and mounts, in order: the pinned parents, then the read-only host controls. */
  readonly hostControls: readonly Mount[];
  readonly home: string;
}

/**
 * A backend that runs the agent's command on this Linux host inside a
 * bubblewrap sandbox. No image: the host's programs run, read-only.
 */
export function createBubblewrapBackend(options: BubblewrapBackendOptions = {}): Backend<BubblewrapPrepared> {
  return {
    // The contract version this code was written against, written out rather than
    // imported: core's constant follows the installed core, this code does not.
    apiVersion: 1,
    name: "bubblewrap",
    capabilities: ["doctor"],
    // What bwrap itself keeps. Core refuses an agent asking for anything else (an allow-list, credentials, a
    // limit) before prepare runs, and says which of its defaults are not kept (the host's network has no floor).
    enforces: ["network.none", "mounts.readOnly", "hostControls.readOnly"],
    // Its own phase name: the CLI already wraps the whole of prepare in a "prepare" phase.
    prepare: (spec, ctx) =>
      phase(ctx, "sandbox-check", "Checking bubblewrap and the agent's paths", () => prepare(spec, ctx, options)),
    launch: (prepared, opts, ctx) => launch(prepared, opts, ctx),
    doctor: (ctx) => doctorChecks(ctx, options.bwrap),
  };
}

/** Validates everything that can be checked before a start and creates the agent's home. Idempotent. */
async function prepare(spec: BottleSpec, ctx: BackendContext, options: BubblewrapBackendOptions): Promise<BubblewrapPrepared> {
  throwIfAborted(ctx.signal);
  if (!spec.command?.length) {
    throw new BottleError(
      ErrorCodes.AGENT_INVALID,
      `The agent "${spec.slug}" has no command. The bubblewrap backend runs programs of this host, not an image's entrypoint, so it needs one.`,
      { hint: `Add a command to ${spec.file ?? "the agent file"}, for example: command: [claude]` },
    );
  }
  ctx.logger.info(`The bubblewrap backend runs this host's programs: the agent's image (${describeImage(spec.image)}) is not used.`);

  // Core checked the hard limits on the spec; here the workspace and the mount sources exist, with the standard codes.
  assertAgentPaths(spec);
  const bwrap = await requireBwrap(ctx.env, options.bwrap);

  // Outside the workspace and kept between bottles, so a login (~/.claude) survives.
  const home = join(ctx.cacheDir, "bubblewrap", "home", spec.slug);
  await mkdir(home, { recursive: true, mode: 0o700 });
  const hostControls = await hostControlBinds(spec);
  throwIfAborted(ctx.signal);
  return { backend: "bubblewrap", spec, bwrap, home, hostControls };
}

async function launch(prepared: BubblewrapPrepared, opts: LaunchOptions, ctx: BackendContext): Promise<Launched> {
  if (opts.detach) {
    throw new BottleError(ErrorCodes.UNSUPPORTED, "The bubblewrap backend cannot detach: a bottle lives as long as the command that started it.", {
      hint: "Start it attached, or use a backend that supports detach (docker).",
    });
  }
  const { spec, bwrap, home } = prepared;
  throwIfAborted(ctx.signal);
  // Again at launch: the paths may have gone since prepare.
  assertAgentPaths(spec);
  const { name } = spec;

  const started = await phase(ctx, "start", "Starting the sandbox", async () => {
    const terminal = usesProcessTerminal(opts.stdio);
    const seccomp = ttyInjectionFilter();
    const args = bwrapArgs(
      {
        slug: spec.slug,
        workspace: spec.workspace,
        home,
        mounts: spec.mounts,
        hostControls: prepared.hostControls,
        network: spec.network,
        terminal,
        ...(seccomp ? { seccompFd: SECCOMP_FD } : {}),
        command: [...spec.command!, ...spec.args, ...opts.extraArgs],
      },
      await readHostLayout(),
    );
    // Safe to log: the arguments hold paths and the command, never environment values.
    ctx.logger.debug(`${name}: ${bwrap} ${args.join(" ")}`);
    return startSandbox({
      bwrap,
      args,
      env: sandboxEnv(spec, ctx.env),
      stdio: opts.stdio,
      ...(seccomp ? { seccomp } : {}),
      signal: ctx.signal,
    });
  });
  return { detached: false, name, exitCode: await started.exited };
}

/**
 * Core's host controls (`.claude-bottle`, the git hooks and config) read-only
 * over the mounts that expose them, each directory above them bound over
 * itself first so that the bottle cannot rename it away (a mountpoint cannot
 * be renamed) and put a git directory of its own in its place.
 */
async function hostControlBinds(spec: BottleSpec): Promise<Mount[]> {
  const binds = [{ source: spec.workspace, target: WORKSPACE_TARGET }, ...spec.mounts];
  const overlays = readOnlyOverlays(await prepareHostControls(spec.workspace), binds);
  return [
    ...pinnedDirectories(overlays, binds).map((pin) => ({ source: pin.source, target: pin.target, readOnly: pin.readOnly })),
    ...overlays.map((overlay) => ({ source: overlay.source, target: overlay.target, readOnly: true })),
  ];
}

function describeImage(image: ImageSource): string {
  return image.kind === "ref" ? image.ref : `built from ${image.dockerfile}`;
}
