import { requireCapability } from "@claude-bottle/core/host";
import { withSession, type CommandEnvironment } from "../context.js";
import { loadSelectedBackend } from "../select-backend.js";
import { processStdio } from "../stdio.js";

/** `exec <bottle> -- command...`: runs it beside the agent; exits with its code. */
export async function exec(environment: CommandEnvironment, bottle: string, command: readonly string[]): Promise<number> {
  return withSession(environment, {}, async (session) => {
    const { backend } = await loadSelectedBackend(session);
    const run = requireCapability(backend, "exec");
    return run(bottle, { command, stdio: processStdio() }, session.context);
  });
}
