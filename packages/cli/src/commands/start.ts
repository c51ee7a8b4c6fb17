import { BottleError, ErrorCodes, approvalsNeeded, phase, planOf, resolveAgent, type Launched } from "@claude-bottle/core";
import { builtinAgents } from "../builtin-agents.js";
import { withSession, type CommandEnvironment, type Session } from "../context.js";
import { ExitCodes } from "../exit-codes.js";
import { formatTiming, type TimingFormat } from "../render/timing.js";
import { importLocatedBackend, locateSelectedBackend, trustCommand } from "../select-backend.js";
import { processStdio } from "../stdio.js";
import { requireApproval } from "../trust/approve.js";
import { setUpBottle } from "../bottles/setup.js";

export interface StartOptions {
  detach: boolean;
  timing?: TimingFormat;
  /** `--worktree [BRANCH]`: `true` for a branch named after the bottle. */
  worktree?: string | true;
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
        return await startIn(session, slug, extraArgs, options.detach, options.worktree);
      } finally {
        if (options.timing && session.timing) {
          session.renderer.stop();
          process.stderr.write(formatTiming(session.timing.report(), options.timing));
        }
      }
    },
  );
}

async function startIn(session: Session, slug: string, extraArgs: readonly string[], detach: boolean, worktree?: string | true): Promise<number> {
  const { context } = session;
  // Nothing from the project runs before the user has seen it: the backend is only located here, and imported after approval.
  const located = await locateSelectedBackend(session);
  const agent = await phase(context, "agent-resolve", `Resolving the agent "${slug}"`, () =>
    resolveAgent(slug, { cwd: context.cwd, env: context.env, builtins: builtinAgents(), logger: context.logger }),
  );
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
  const { backend } = await importLocatedBackend(session, located);
  if (detach && !backend.capabilities.includes("detach")) {
    throw new BottleError(ErrorCodes.UNSUPPORTED, `The ${backend.name} backend cannot start a bottle detached.`, {
      hint: "Start it attached (without --detach), or choose another backend with --backend.",
    });
  }
  // Its own worktree, status directory and hooks, and the user's git identity (bottles/setup.ts).
  const bottle = await setUpBottle(agent, backend.name, context, { worktree, builtinClaude: agent.origin === "builtin" && agent.slug === "claude" });
  let launched: Launched | undefined;
  try {
    const prepared = await phase(context, "prepare", `Preparing "${slug}"`, () => backend.prepare(bottle.agent, context));
    launched = await backend.launch(prepared, { extraArgs, detach, stdio: processStdio(), name: bottle.name }, context);
  } finally {
    await bottle.finish({ detached: launched?.detached === true, ...(launched ? { name: launched.name } : {}) });
  }
  if (launched.detached) {
    process.stdout.write(`${launched.name}\n`);
    return ExitCodes.OK;
  }
  return launched.exitCode;
}
