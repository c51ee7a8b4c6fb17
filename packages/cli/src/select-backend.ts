import {
  ApprovalStore,
  BottleError,
  ErrorCodes,
  backendApprovalNeeded,
  importApprovedBackend,
  importBackend,
  locateBackend,
  phase,
  selectedBackendName,
  type ApprovalRequest,
  type LoadedBackend,
  type LocatedBackend,
} from "@claude-bottle/core";
import { builtinBackends } from "./builtin-backends.js";
import type { GlobalOptions, Session } from "./context.js";
import { cliPackageDir } from "./package-dir.js";
import { pendingApprovals } from "./trust/approve.js";

/**
 * Where the backend chosen by --backend, CLAUDE_BOTTLE_BACKEND or the default
 * is, resolved from the user's project first and then from the CLI's install,
 * without running any of its code.
 */
export function locateSelectedBackend(session: Pick<Session, "context" | "globals">): Promise<LocatedBackend> {
  const { context, globals } = session;
  return locateBackend({
    name: selectedBackendName(globals.backend, context.env),
    env: context.env,
    projectDir: context.cwd,
    hostDir: cliPackageDir(),
    builtins: builtinBackends(),
  });
}

/**
 * Imports a located backend: only once its code is the CLI's own or approved.
 * A project backend comes with the approval request it was approved by, and
 * is imported from the copy of exactly what that request digested.
 */
export function importLocatedBackend(session: Pick<Session, "context">, located: LocatedBackend, request: ApprovalRequest | undefined): Promise<LoadedBackend> {
  return phase(session.context, "backend-load", `Loading the ${located.name} backend`, () => importFor(located, request, session.context.env));
}

/** The one place a located backend is imported: from its approved copy whenever it needed an approval. */
export function importFor(located: LocatedBackend, request: ApprovalRequest | undefined, env: Session["context"]["env"]): Promise<LoadedBackend> {
  const builtins = builtinBackends();
  if (request?.snapshot) return importApprovedBackend(located, request.snapshot, { builtins, env });
  if (located.fromProject) {
    // A project backend never loads from the project itself: the caller must pass its approval request.
    throw new BottleError(ErrorCodes.APPROVAL_REQUIRED, `The backend "${located.name}" comes from this project and was given no approved snapshot; its code was not run.`);
  }
  return importBackend(located, { builtins });
}

/**
 * The selected backend, for commands that start nothing new (ls, stop, rm...):
 * a backend from the project must have been approved already (by `start` or
 * `trust`); it is never imported before.
 */
export async function loadSelectedBackend(session: Session): Promise<LoadedBackend> {
  const located = await locateSelectedBackend(session);
  const request = await backendApprovalNeeded(located);
  if (request && (await pendingApprovals(ApprovalStore.forUser(session.context.env), [request])).length) {
    throw new BottleError(ErrorCodes.APPROVAL_REQUIRED, `The backend "${located.name}" comes from this project (${located.kind === "package" ? located.entry : ""}) and has not been approved; its code was not run.`, {
      hint: `Review and approve it with: ${trustCommand(session.globals)}`,
    });
  }
  return importLocatedBackend(session, located, request);
}

/** `claude-bottle [--backend NAME] trust [agent]`: what approves this, as the user would type it. */
export function trustCommand(globals: GlobalOptions, agent?: string, yes = false): string {
  const backend = globals.backend ? ` --backend ${globals.backend}` : "";
  return `claude-bottle${backend} trust${agent ? ` ${agent}` : ""}${yes ? " --yes" : ""}`;
}
