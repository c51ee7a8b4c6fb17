import { BottleError, ErrorCodes, phase, type Isolation, type Launched, type ResolvedAgent } from "@claude-bottle/core";
import { HOST_ENTRY_PATTERN, approvalsNeeded, planOf, resolveAgent, widenNetworkPolicy } from "@claude-bottle/core/host";
import { builtinAgents } from "../builtin-agents.js";
import { withSession, type CommandEnvironment, type Session } from "../context.js";
import { ExitCodes } from "../exit-codes.js";
import { formatTiming, type TimingFormat } from "../render/timing.js";
import { importLocatedBackend, locateSelectedBackend, trustCommand } from "../select-backend.js";
import { processStdio } from "../stdio.js";
import { credentialNames, withStoredCredentials } from "../credentials/store.js";
import { requireApproval } from "../trust/approve.js";
import { setUpBottle } from "../bottles/setup.js";
import { hostGitIdentity } from "../bottles/identity.js";

export interface StartOptions {
  detach: boolean;
  /** Hosts the bottle may reach on this run, beyond its agent's policy. */
  allowHosts: readonly string[];
  timing?: TimingFormat;
  /** `--worktree [BRANCH]`: `true` for a branch named after the bottle. */
  worktree?: string | true;
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
  const resolved = withAllowedHosts(
    await phase(context, "agent-resolve", `Resolving the agent "${slug}"`, () =>
      resolveAgent(slug, { cwd: context.cwd, env: context.env, builtins: builtinAgents(), logger: context.logger }),
    ),
    options.allowHosts,
  );
  const agent: ResolvedAgent = options.isolation ? { ...resolved, isolation: options.isolation } : resolved;
  const plan = planOf(agent, located);
  const requests = await approvalsNeeded(agent, plan, located);
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
  const bottleContext = { ...context, env: await withStoredCredentials(context.env, credentialNames(agent)) };
  const names = credentialNames(agent);
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
  const bottle = await setUpBottle(agent, backend.name, bottleContext, {
    worktree: options.worktree,
    builtinClaude: agent.origin === "builtin" && agent.slug === "claude",
    identity,
  });
  let launched: Launched | undefined;
  try {
    const prepared = await phase(context, "prepare", `Preparing "${slug}"`, () => backend.prepare(bottle.agent, bottleContext));
    launched = await backend.launch(prepared, { extraArgs, detach, stdio: processStdio(), name: bottle.name }, bottleContext);
  } finally {
    await bottle.finish({ detached: launched?.detached === true, ...(launched ? { name: launched.name } : {}) });
  }
  if (launched.detached) {
    process.stdout.write(`${launched.name}\n`);
    return ExitCodes.OK;
  }
  return launched.exitCode;
}

/** `--allow-host` widens the agent's policy for this run; the plan shows the result. */
function withAllowedHosts(agent: ResolvedAgent, hosts: readonly string[]): ResolvedAgent {
  if (!hosts.length) return agent;
  const entry = new RegExp(HOST_ENTRY_PATTERN);
  const bad = hosts.find((host) => !entry.test(host));
  if (bad !== undefined) {
    throw new BottleError(ErrorCodes.INVALID_ARGUMENT, `--allow-host ${bad}: not a host name, *.domain or IP literal (with an optional :port).`, {
      hint: "For example: --allow-host api.example.com --allow-host '*.example.org:443'",
    });
  }
  const egress = widenNetworkPolicy(agent.network ? agent.egress : undefined, hosts)!;
  return { ...agent, network: true, egress };
}
