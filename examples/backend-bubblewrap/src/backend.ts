import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import {
  assertAgentPaths,
  bottleName,
  BottleError,
  ErrorCodes,
  phase,
  throwIfAborted,
  type Backend,
  type BackendContext,
  type ImageSource,
  type Launched,
  type LaunchOptions,
  type Prepared,
  type ResolvedAgent,
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
    // Its own phase name: the CLI already wraps the whole of prepare in a "prepare" phase.
    prepare: (agent, ctx) =>
      phase(ctx, "sandbox-check", "Checking bubblewrap and the agent's paths", () => prepare(agent, ctx, options)),
    launch: (prepared, opts, ctx) => launch(prepared, opts, ctx),
    doctor: (ctx) => doctorChecks(ctx, options.bwrap),
  };
}

/** Validates everything that can be checked before a start and creates the agent's home. Idempotent. */
async function prepare(agent: ResolvedAgent, ctx: BackendContext, options: BubblewrapBackendOptions): Promise<BubblewrapPrepared> {
  throwIfAborted(ctx.signal);
  if (!agent.command?.length) {
    throw new BottleError(
      ErrorCodes.AGENT_INVALID,
      `The agent "${agent.slug}" has no command. The bubblewrap backend runs programs of this host, not an image's entrypoint, so it needs one.`,
      { hint: `Add a command to ${agent.file ?? "the agent file"}, for example: command: [claude]` },
    );
  }
  // bwrap shares the host's network or none: a policy by host name, or credentials held by a proxy, cannot be kept here.
  if (agent.network && (agent.egress?.mode === "allow" || agent.egress?.deny.length || agent.credentials?.length)) {
    throw new BottleError(
      ErrorCodes.UNSUPPORTED,
      `The agent "${agent.slug}" has a network allow-list, deny-list or credentials; the bubblewrap backend can only share this host's network or cut it.`,
      { hint: "Use the docker or smolmachines backend for this agent, or give it network: true (the host's whole network) or false." },
    );
  }
  ctx.logger.info(`The bubblewrap backend runs this host's programs: the agent's image (${describeImage(agent.image)}) is not used.`);
  if (agent.resources.cpus !== undefined || agent.resources.memory !== undefined) {
    ctx.logger.warn("The bubblewrap backend does not limit CPU or memory: the agent's resources are ignored.");
  }

  // Core's checks: the hard limits no agent lifts, the workspace and the mount sources, with the standard codes.
  assertAgentPaths(agent, { env: ctx.env });
  const bwrap = await requireBwrap(ctx.env, options.bwrap);

  // Outside the workspace and kept between bottles, so a login (~/.claude) survives.
  const home = join(ctx.cacheDir, "bubblewrap", "home", agent.slug);
  await mkdir(home, { recursive: true, mode: 0o700 });
  throwIfAborted(ctx.signal);
  return { backend: "bubblewrap", agent, bwrap, home };
}

async function launch(prepared: BubblewrapPrepared, opts: LaunchOptions, ctx: BackendContext): Promise<Launched> {
  if (opts.detach) {
    throw new BottleError(ErrorCodes.UNSUPPORTED, "The bubblewrap backend cannot detach: a bottle lives as long as the command that started it.", {
      hint: "Start it attached, or use a backend that supports detach (docker).",
    });
  }
  const { agent, bwrap, home } = prepared;
  throwIfAborted(ctx.signal);
  // Again at launch: the paths may have gone since prepare.
  assertAgentPaths(agent, { env: ctx.env });
  const name = opts.name ?? bottleName(agent.slug, randomBytes(3).toString("hex"));

  const started = await phase(ctx, "start", "Starting the sandbox", async () => {
    const terminal = usesProcessTerminal(opts.stdio);
    const seccomp = ttyInjectionFilter();
    const args = bwrapArgs(
      {
        slug: agent.slug,
        workspace: agent.workspace,
        home,
        mounts: agent.mounts,
        network: agent.network,
        terminal,
        ...(seccomp ? { seccompFd: SECCOMP_FD } : {}),
        command: [...agent.command!, ...agent.args, ...opts.extraArgs],
      },
      await readHostLayout(),
    );
    // Safe to log: the arguments hold paths and the command, never environment values.
    ctx.logger.debug(`${name}: ${bwrap} ${args.join(" ")}`);
    return startSandbox({
      bwrap,
      args,
      env: sandboxEnv(agent, ctx.env),
      stdio: opts.stdio,
      ...(seccomp ? { seccomp } : {}),
      signal: ctx.signal,
    });
  });
  return { detached: false, name, exitCode: await started.exited };
}

function describeImage(image: ImageSource): string {
  return image.kind === "ref" ? image.ref : `built from ${image.dockerfile}`;
}
