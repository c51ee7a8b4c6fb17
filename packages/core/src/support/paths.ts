import { statSync } from "node:fs";
import type { ResolvedAgent } from "../agent/model.js";
import { BottleError, ErrorCodes } from "../errors.js";

export interface AgentPathOptions {
  /**
   * What a mount source may be: `"any"` (a file or a directory, the default),
   * or `"directory"` for an isolation that shares directories only; a file
   * is then refused with UNSUPPORTED, naming `backend`.
   */
  mountSources?: "any" | "directory";
  /** Named in the UNSUPPORTED error of a file mount. */
  backend?: string;
}

function kindOf(path: string): "directory" | "file" | "missing" {
  try {
    return statSync(path).isDirectory() ? "directory" : "file";
  } catch {
    return "missing";
  }
}

/**
 * The check every backend makes in `prepare` and again in `launch` (the paths
 * may have gone in between; the hard limits were checked by core, on the
 * spec): the workspace is an existing directory (else WORKSPACE_NOT_FOUND)
 * and each mount source exists (else MOUNT_NOT_FOUND). Errors name the
 * agent's file and field.
 */
export function assertAgentPaths(agent: Pick<ResolvedAgent, "workspace" | "mounts" | "file" | "slug">, options: AgentPathOptions = {}): void {
  const where = agent.file ?? `agent "${agent.slug}"`;
  if (kindOf(agent.workspace) !== "directory") {
    throw new BottleError(ErrorCodes.WORKSPACE_NOT_FOUND, `The workspace ${agent.workspace} does not exist or is not a directory.`, {
      hint: `Run from an existing directory, or set workspace: in ${where} to one.`,
    });
  }
  for (const mount of agent.mounts) {
    const kind = kindOf(mount.source);
    if (kind === "missing") {
      throw new BottleError(ErrorCodes.MOUNT_NOT_FOUND, `The mount source ${mount.source} (for ${mount.target}) does not exist.`, {
        hint: `Create it, or remove it from mounts: in ${where}.`,
      });
    }
    if (kind === "file" && options.mountSources === "directory") {
      throw new BottleError(
        ErrorCodes.UNSUPPORTED,
        `The mount source ${mount.source} is a file; the ${options.backend ?? "selected"} backend can mount directories only.`,
        { hint: "Mount the directory that holds it instead, or use a backend that mounts files (docker)." },
      );
    }
  }
}
