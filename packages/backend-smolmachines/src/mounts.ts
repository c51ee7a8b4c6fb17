import { statSync } from "node:fs";
import { BottleError, ErrorCodes, WORKSPACE_TARGET, type ResolvedAgent } from "@claude-bottle/core";

function kindOf(path: string): "directory" | "file" | "missing" {
  try {
    return statSync(path).isDirectory() ? "directory" : "file";
  } catch {
    return "missing";
  }
}

/**
 * smolvm mounts existing host directories only (`-v HOST:GUEST`, HOST not a
 * file; SMOLVM.md, "Running a packed machine"), so the workspace and every extra mount are checked up front, with
 * an error that names the recipe's field rather than smolvm's refusal.
 */
export function assertMountSources(agent: ResolvedAgent): void {
  if (kindOf(agent.workspace) !== "directory") {
    throw new BottleError(ErrorCodes.WORKSPACE_NOT_FOUND, `The workspace ${agent.workspace} is not an existing directory.`, {
      hint: `Create it, or set workspace: in ${agent.file ?? `agent "${agent.slug}"`} to a directory that exists.`,
    });
  }
  for (const mount of agent.mounts) {
    const kind = kindOf(mount.source);
    if (kind === "missing") {
      throw new BottleError(ErrorCodes.MOUNT_NOT_FOUND, `The mount source ${mount.source} (for ${mount.target}) does not exist.`, {
        hint: `Create it, or remove it from mounts: in ${agent.file ?? `agent "${agent.slug}"`}.`,
      });
    }
    if (kind === "file") {
      throw new BottleError(ErrorCodes.UNSUPPORTED, `The mount source ${mount.source} is a file; smolvm can mount directories only.`, {
        hint: `Mount the directory that holds it instead, or use the docker backend for this agent.`,
      });
    }
  }
}

/** The `-v` arguments: the workspace at /workspace, then the extra mounts. */
export function volumeArguments(agent: ResolvedAgent): string[] {
  const volumes = [
    `${agent.workspace}:${WORKSPACE_TARGET}`,
    ...agent.mounts.map((m) => `${m.source}:${m.target}${m.readOnly ? ":ro" : ""}`),
  ];
  return volumes.flatMap((volume) => ["-v", volume]);
}
