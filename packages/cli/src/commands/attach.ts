import { requireCapability } from "@claude-bottle/core/host";
import { withSession, type CommandEnvironment } from "../context.js";
import { loadSelectedBackend } from "../select-backend.js";
import { processStdio } from "../stdio.js";

/** `attach <bottle>`: the terminal to the bottle's agent; exits with the agent's code when it ends. */
export async function attach(environment: CommandEnvironment, bottle: string): Promise<number> {
  return withSession(environment, {}, async (session) => {
    const { backend } = await loadSelectedBackend(session);
    const attachTo = requireCapability(backend, "attach");
    return attachTo(bottle, { stdio: processStdio() }, session.context);
  });
}
