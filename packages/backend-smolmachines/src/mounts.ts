import {
  WORKSPACE_TARGET,
  assertAgentPaths,
  prepareHostControls,
  readOnlyOverlays,
  type ReadOnlyOverlay,
  type ResolvedAgent,
} from "@claude-bottle/core";

/**
 * smolvm mounts existing host directories only (`-v HOST:GUEST`, HOST not a
 * file; SMOLVM.md, "Running a packed machine"), so the workspace and every
 * extra mount are checked up front with core's checks (hard limits included),
 * a file mount refused with UNSUPPORTED rather than smolvm's own refusal.
 */
export function assertMountSources(agent: ResolvedAgent, env: Readonly<Record<string, string | undefined>>): void {
  assertAgentPaths(agent, { env, mountSources: "directory", backend: "smolmachines" });
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
