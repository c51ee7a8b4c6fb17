import { requireCapability } from "@claude-bottle/core";
import { withSession, type CommandEnvironment } from "../context.js";
import { ExitCodes } from "../exit-codes.js";
import { loadSelectedBackend } from "../select-backend.js";

/** `logs <bottle> [-f]`: the bottle's stdout to stdout and stderr to stderr. */
export async function logs(environment: CommandEnvironment, bottle: string, options: { follow: boolean }): Promise<number> {
  return withSession(environment, {}, async (session) => {
    const { backend } = await loadSelectedBackend(session);
    await requireCapability(backend, "logs")(
      bottle,
      { follow: options.follow, stdio: { stdout: process.stdout, stderr: process.stderr } },
      session.context,
    );
    return ExitCodes.OK;
  });
}
