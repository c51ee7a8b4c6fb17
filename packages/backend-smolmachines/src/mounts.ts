import { statSync } from "node:fs";
import { homedir } from "node:os";
import {
  BottleError,
  ErrorCodes,
  WORKSPACE_TARGET,
  assertHardLimits,
  prepareHostControls,
  readOnlyOverlays,
  type ReadOnlyOverlay,
  type ResolvedAgent,
} from "@claude-bottle/core";

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
export function assertMountSources(agent: ResolvedAgent, env: Readonly<Record<string, string | undefined>>): void {
  // resolveAgent checks these too; an agent built by hand (library use) gets the same limits.
  assertHardLimits(agent, { home: homedir(), env, uid: process.getuid?.() });
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

/**
 * The `-v` arguments: the workspace at /workspace, the extra mounts, then
 * each directory the host obeys (`.claude-bottle`, git hooks) read-only over
 * the mount that exposes it; smolvm mounts them in this order, parents first.
 * Files (git config) cannot be shared one by one (SMOLVM.md, "Volumes"): the
 * launch guards them instead (see guardFiles).
 */
export function volumeArguments(agent: ResolvedAgent, overlays: readonly ReadOnlyOverlay[] = []): string[] {
  const volumes = [
    `${agent.workspace}:${WORKSPACE_TARGET}`,
    ...agent.mounts.map((m) => `${m.source}:${m.target}${m.readOnly ? ":ro" : ""}`),
    ...overlays.filter((o) => o.kind === "directory").map((o) => `${o.source}:${o.target}:ro`),
  ];
  return volumes.flatMap((volume) => ["-v", volume]);
}

/** The host controls of a bottle, and where its mounts expose them. */
export async function hostControlOverlays(agent: ResolvedAgent): Promise<ReadOnlyOverlay[]> {
  const controls = await prepareHostControls(agent.workspace);
  return readOnlyOverlays(controls, [{ source: agent.workspace, target: WORKSPACE_TARGET }, ...agent.mounts]);
}

/** The host files among the overlays: guarded around the bottle's life, since smolvm cannot lay them read-only. */
export function guardedFilesOf(overlays: readonly ReadOnlyOverlay[]): string[] {
  return [...new Set(overlays.filter((o) => o.kind === "file").map((o) => o.source))];
}
