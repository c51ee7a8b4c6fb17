import { requireCapability } from "@claude-bottle/core";
import { quarantine } from "../bottles/setup.js";
import { recordOf } from "../bottles/view.js";
import { withSession, type CommandEnvironment } from "../context.js";
import { ExitCodes } from "../exit-codes.js";
import { loadSelectedBackend } from "../select-backend.js";

/** `stop <bottle>`: stops it and leaves it in `ls` until `rm`; the git files it wrote are moved aside, as at any bottle's end. */
export async function stop(environment: CommandEnvironment, bottle: string): Promise<number> {
  return withSession(environment, {}, async (session) => {
    const { backend } = await loadSelectedBackend(session);
    await requireCapability(backend, "stop")(bottle, {}, session.context);
    const record = (await recordOf(session.context.env, backend.name, bottle))?.record;
    if (record?.gitWatch) await quarantine(bottle, record.gitWatch, new Date(record.createdAt), session.context);
    return ExitCodes.OK;
  });
}
