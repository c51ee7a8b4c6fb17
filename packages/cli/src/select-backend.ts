import { loadBackend, phase, selectedBackendName, type LoadedBackend } from "@claude-bottle/core";
import { builtinBackends } from "./builtin-backends.js";
import type { Session } from "./context.js";
import { cliPackageDir } from "./package-dir.js";

/**
 * The backend chosen by --backend, CLAUDE_BOTTLE_BACKEND or the default,
 * resolved from the user's project first and then from the CLI's install.
 */
export function loadSelectedBackend(session: Session): Promise<LoadedBackend> {
  const { context, globals } = session;
  const name = selectedBackendName(globals.backend, context.env);
  return phase(context, "backend-load", `Loading the ${name} backend`, () =>
    loadBackend({ name, env: context.env, projectDir: context.cwd, hostDir: cliPackageDir(), builtins: builtinBackends() }),
  );
}
