import { requireCapability } from "@claude-bottle/core";
import { withSession, type CommandEnvironment } from "../context.js";
import { ExitCodes } from "../exit-codes.js";
import { loadSelectedBackend } from "../select-backend.js";

/** `rm <bottle> [-f]`: removes a stopped bottle; with --force a running one too. */
export async function rm(environment: CommandEnvironment, bottle: string, options: { force: boolean }): Promise<number> {
  return withSession(environment, {}, async (session) => {
    const { backend } = await loadSelectedBackend(session);
    await requireCapability(backend, "remove")(bottle, { force: options.force }, session.context);
    return ExitCodes.OK;
  });
}
