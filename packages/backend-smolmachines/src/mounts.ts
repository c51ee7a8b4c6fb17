import {
  WORKSPACE_TARGET,
  assertAgentPaths,
  pinnedDirectories,
  prepareHostControls,
  readOnlyOverlays,
  type PinnedDirectory,
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
 * The `-v` arguments: the workspace at /workspace, the extra mounts, the
 * pinned directories, then each directory the host obeys (`.claude-bottle`,
 * git hooks) read-only over the mount that exposes it; smolvm mounts them in
 * this order, parents first. Files (git config) cannot be shared one by one
 * (SMOLVM.md, "Volumes"): the launch guards them instead (see guardHost).
 */
export function volumeArguments(agent: ResolvedAgent, overlays: readonly ReadOnlyOverlay[] = []): string[] {
  const volumes = [
    `${agent.workspace}:${WORKSPACE_TARGET}`,
    ...agent.mounts.map((m) => `${m.source}:${m.target}${m.readOnly ? ":ro" : ""}`),
    ...pinnedShares(agent, overlays).map((p) => `${p.source}:${p.target}${p.readOnly ? ":ro" : ""}`),
    ...overlays.filter((o) => o.kind === "directory").map((o) => `${o.source}:${o.target}:ro`),
  ];
  return volumes.flatMap((volume) => ["-v", volume]);
}

/**
 * The directories above the host controls (`.git`, `.git/worktrees/<id>`),
 * each shared as its own share at its own path, as docker binds them over
 * themselves: a mountpoint cannot be renamed, so the bottle cannot move
 * `.git` away and make one the host's git would obey. Shallowest first,
 * since smolvm mounts in the order given. Root in the guest could still
 * unmount one: the launch checks each when the bottle ends (see guardHost).
 */
export function pinnedShares(agent: ResolvedAgent, overlays: readonly ReadOnlyOverlay[]): PinnedDirectory[] {
  const pins = pinnedDirectories(overlays, [{ source: agent.workspace, target: WORKSPACE_TARGET }, ...agent.mounts]);
  const depth = (target: string) => target.split("/").length;
  return pins.sort((a, b) => depth(a.target) - depth(b.target));
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
