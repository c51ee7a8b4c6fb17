import { requireCapability } from "@claude-bottle/core/host";
import { withSession, type CommandEnvironment } from "../context.js";
import { ExitCodes } from "../exit-codes.js";
import { loadSelectedBackend } from "../select-backend.js";

/** `proxy restart <bottle>`: brings back a running bottle's egress proxy (it died, or was killed); the agent goes on. */
export async function restartProxy(environment: CommandEnvironment, bottle: string): Promise<number> {
  return withSession(environment, {}, async (session) => {
    const { backend } = await loadSelectedBackend(session);
    await requireCapability(backend, "restartProxy")(bottle, {}, session.context);
    return ExitCodes.OK;
  });
}
