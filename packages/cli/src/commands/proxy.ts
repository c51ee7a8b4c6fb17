import { requireCapability } from "@claude-bottle/core/host";
import { withSession, type CommandEnvironment } from "../context.js";
import { openCredentialStore } from "../credentials/store.js";
import { ExitCodes } from "../exit-codes.js";
import { loadSelectedBackend } from "../select-backend.js";

/** `proxy restart <bottle>`: brings back a running bottle's egress proxy (it died, or was killed); the agent goes on. */
export async function restartProxy(environment: CommandEnvironment, bottle: string): Promise<number> {
  return withSession(environment, {}, async (session) => {
    const { backend } = await loadSelectedBackend(session);
    const { env } = session.context;
    // A proxy that injected credentials gets them again as its start did: from the environment, else `login`'s store.
    const credential = async (name: string) => env[name] || (await (await openCredentialStore(env)).get(name));
    await requireCapability(backend, "restartProxy")(bottle, { credential }, session.context);
    return ExitCodes.OK;
  });
}
