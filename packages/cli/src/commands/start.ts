import { BottleError, ErrorCodes, parseHostPattern, phase, type Isolation, type Launched } from "@claude-bottle/core";
import { approvalsNeeded, planOf, resolveAgent } from "@claude-bottle/core/host";
import { builtinAgents } from "../builtin-agents.js";
import { withSession, type CommandEnvironment, type Session } from "../context.js";
import { ExitCodes } from "../exit-codes.js";
import { formatTiming, type TimingFormat } from "../render/timing.js";
import { importLocatedBackend, locateSelectedBackend, trustCommand } from "../select-backend.js";
import { processStdio } from "../stdio.js";
import { credentialNames, withStoredCredentials } from "../credentials/store.js";
import { requireGithubToken, withGithubCredential } from "../credentials/github.js";
import { requireApproval } from "../trust/approve.js";
import { setUpBottle } from "../bottles/setup.js";
import { hostGitIdentity } from "../bottles/identity.js";
import { withPortFlags } from "../bottles/port-flags.js";
import { bottleSpecOf } from "../bottles/spec.js";

export interface StartOptions {
  detach: boolean;
  /** Hosts the bottle may reach on this run, beyond its agent's policy. */
  allowHosts: readonly string[];
  /** `--publish`: ports of the bottle on the user's loopback, beyond the agent's `ports:`. */
  publish?: readonly string[];
  /** `--host-service`: ports of the user's loopback the bottle may reach, beyond the agent's `network.host`. */
  hostServices?: readonly string[];
  timing?: TimingFormat;
  /** `--worktree [BRANCH]`: `true` for a branch named after the bottle. */
  worktree?: string | true;
  /** `--github`: bind a GitHub token for this run (credentials/github.ts). */
  github?: boolean;
  /** `--isolation`: the user's choice for this run, over the agent file and the user's config; the plan shows it. */
  isolation?: Isolation;
}

/**
 * An attached agent owns the terminal from the moment its bottle starts;
 * backends mark that moment with a "start" or "attach" phase, and the spinner
 * must be gone by then.
 */
const ATTACHED_HAND_OVER = new Set(["start", "attach"]);

/**
 * `start <agent> [-- args]`: resolve the agent, let the backend prepare it,
 * launch it. Attached, the exit code is the agent's; detached, the bottle's
 * name goes to stdout for scripts.
 */
export async function start(
  environment: CommandEnvironment,
  slug: string,
  extraArgs: readonly string[],
  options: StartOptions,
): Promise<number> {
  return withSession(
    environment,
    {
      handOverPhases: options.detach ? new Set() : ATTACHED_HAND_OVER,
      timing: options.timing !== undefined,
      progress: true,
    },
    async (session) => {
      try {
        return await startIn(session, slug, extraArgs, options);
      } finally {
        if (options.timing && session.timing) {
          session.renderer.stop();
          process.stderr.write(formatTiming(session.timing.report(), options.timing));
        }
      }
    },
  );
}

async function startIn(session: Session, slug: string, extraArgs: readonly string[], options: StartOptions): Promise<number> {
  const { context } = session;
  const { detach } = options;
  // Nothing from the project runs before the user has seen it: the backend is only located here, and imported after approval.
  const located = await locateSelectedBackend(session);
  assertHostEntries(options.allowHosts);
  const agent = await phase(context, "agent-resolve", `Resolving the agent "${slug}"`, () =>
    resolveAgent(slug, { cwd: context.cwd, env: context.env, builtins: builtinAgents(), logger: context.logger }),
  );
  // One value from here on: the plan shown and approved is rendered from it, and the backend is given it.
  const spec = bottleSpecOf(agent, context.env, {
    allowHosts: options.allowHosts,
    applyFlags: (checked) => {
      const flagged = withPortFlags(withGithubCredential(checked, options.github === true), options.publish ?? [], options.hostServices ?? []);
      return options.isolation ? { ...flagged, isolation: options.isolation } : flagged;
    },
  });
  const plan = planOf(spec, located);
  const requests = await approvalsNeeded(spec, plan, located);
  if (requests.length) {
    // No phase runs while the user reads the plan, so no spinner draws over it.
    await requireApproval(plan, requests, {
      trustCommand: trustCommand(session.globals, slug, true),
      interactive: process.stdin.isTTY === true && process.stderr.isTTY === true,
      env: context.env,
      stdin: process.stdin,
      stderr: process.stderr,
    });
  }
  // Asked now, so git runs while the backend loads; a worktree's repository has the workspace's configuration.
  const identity = hostGitIdentity(agent.workspace);
  // Credentials the host has not set come from `claude-bottle login`; one that is found nowhere stops here, with how to log in.
  // Only for the agent's credential bindings, which reach the bottle as placeholders: a pass-through name in `env:`
  // gets the host's own variable or nothing, never a stored value (SECURITY.md point 4).
  const bottleContext = { ...context, env: await withStoredCredentials(context.env, credentialNames(spec)) };
  requireGithubToken(bottleContext.env, options.github === true);
  const names = credentialNames(spec);
  if (names.length && names.every((name) => !bottleContext.env[name])) {
    // The built-in claude can still log in inside the bottle (kept in the project's home); any other agent needs its credential.
    if (agent.origin === "builtin") {
      context.logger.info(`no ${names.join(" or ")} here or stored: log in inside the bottle, or once for every project with \`claude-bottle login\`.`);
    } else {
      throw new BottleError(ErrorCodes.ENV_NOT_SET, `The agent "${slug}" needs ${names.join(" or ")}, which is neither set here nor stored.`, {
        hint: `Log in once for every project: claude-bottle login ${slug} (or set ${names[0]} in your environment).`,
      });
    }
  }
  const { backend } = await importLocatedBackend(session, located, requests.find((r) => r.snapshot));
  if (detach && !backend.capabilities.includes("detach")) {
    throw new BottleError(ErrorCodes.UNSUPPORTED, `The ${backend.name} backend cannot start a bottle detached.`, {
      hint: "Start it attached (without --detach), or choose another backend with --backend.",
    });
  }
  // Its own worktree, status directory and hooks, and the user's git identity (bottles/setup.ts).
  const bottle = await setUpBottle(spec, backend.name, bottleContext, {
    worktree: options.worktree,
    builtinClaude: agent.origin === "builtin" && agent.slug === "claude",
    identity,
  });
  let launched: Launched | undefined;
  try {
    const prepared = await phase(context, "prepare", `Preparing "${slug}"`, () => backend.prepare(bottle.spec, bottleContext));
    launched = await backend.launch(prepared, { extraArgs, detach, stdio: processStdio() }, bottleContext);
  } finally {
    await bottle.finish({ detached: launched?.detached === true });
  }
  if (launched.detached) {
    process.stdout.write(`${launched.name}\n`);
    return ExitCodes.OK;
  }
  return launched.exitCode;
}

/** `--allow-host` widens the agent's policy for this run (in the spec, so the plan shows the result): each must be a host entry. */
function assertHostEntries(hosts: readonly string[]): void {
  for (const host of hosts) {
    const parsed = parseHostPattern(host);
    if (typeof parsed === "string") {
      throw new BottleError(ErrorCodes.INVALID_ARGUMENT, `--allow-host ${host}: ${parsed}.`, {
        hint: "For example: --allow-host api.example.com --allow-host '*.example.org:443'",
      });
    }
  }
}
