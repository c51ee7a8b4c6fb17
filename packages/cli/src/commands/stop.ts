import { requireCapability } from "@claude-bottle/core";
import { withSession, type CommandEnvironment } from "../context.js";
import { ExitCodes } from "../exit-codes.js";
import { loadSelectedBackend } from "../select-backend.js";

/** `stop <bottle>`: stops it and leaves it in `ls` until `rm`. */
export async function stop(environment: CommandEnvironment, bottle: string): Promise<number> {
  return withSession(environment, {}, async (session) => {
    const { backend } = await loadSelectedBackend(session);
    await requireCapability(backend, "stop")(bottle, {}, session.context);
    return ExitCodes.OK;
  });
}
