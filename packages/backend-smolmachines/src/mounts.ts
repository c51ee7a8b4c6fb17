import { posix } from "node:path";
import {
  WORKSPACE_TARGET,
  assertAgentPaths,
  pinnedDirectories,
  prepareHostControls,
  readOnlyOverlays,
  type PinnedDirectory,
  type ReadOnlyOverlay,
  type BottleSpec,
} from "@claude-bottle/core";

/**
 * smolvm mounts existing host directories only (`-v HOST:GUEST`, HOST not a
 * file; SMOLVM.md, "Running a packed machine"), so the workspace and every
 * extra mount are checked up front with core's checks (core checked the hard limits),
 * a file mount refused with UNSUPPORTED rather than smolvm's own refusal.
 */
export function assertMountSources(spec: BottleSpec): void {
  assertAgentPaths(spec, { mountSources: "directory", backend: "smolmachines" });
}

/**
 * The `-v` arguments: the workspace at /workspace, the extra mounts, the
 * pinned directories, and each directory the host obeys (`.claude-bottle`,
 * git hooks) read-only over the mount that exposes it. smolvm mounts them in
 * the order given, so they go parents first, as docker orders its binds: a
 * pin (`.git/worktrees`) must lie below a deeper mount (a worktree's own
 * `.git/worktrees/<id>`), not over it. Files (git config) cannot be shared one
 * by one (SMOLVM.md, "Volumes"): the launch guards them instead (see guardHost).
 */
export function volumeArguments(agent: BottleSpec, overlays: readonly ReadOnlyOverlay[] = []): string[] {
  const shares = [
    ...agent.mounts.map((m) => ({ source: m.source, target: m.target, readOnly: m.readOnly })),
    ...pinnedShares(agent, overlays),
    ...overlays.filter((o) => o.kind === "directory").map((o) => ({ source: o.source, target: o.target, readOnly: true })),
  ];
  const depth = (target: string) => posix.normalize(target).split("/").length;
  // Stable: shares at one depth keep the order above (mounts, pins, then the read-only controls).
  const ordered = shares.map((share, index) => ({ share, index })).sort((a, b) => depth(a.share.target) - depth(b.share.target) || a.index - b.index);
  const volumes = [`${agent.workspace}:${WORKSPACE_TARGET}`, ...ordered.map(({ share }) => `${share.source}:${share.target}${share.readOnly ? ":ro" : ""}`)];
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
export function pinnedShares(agent: BottleSpec, overlays: readonly ReadOnlyOverlay[]): PinnedDirectory[] {
  const pins = pinnedDirectories(overlays, [{ source: agent.workspace, target: WORKSPACE_TARGET }, ...agent.mounts]);
  const depth = (target: string) => target.split("/").length;
  return pins.sort((a, b) => depth(a.target) - depth(b.target));
}

/** The host controls of a bottle, and where its mounts expose them. */
export async function hostControlOverlays(agent: BottleSpec): Promise<ReadOnlyOverlay[]> {
  const controls = await prepareHostControls(agent.workspace);
  return readOnlyOverlays(controls, [{ source: agent.workspace, target: WORKSPACE_TARGET }, ...agent.mounts]);
}

/** The host files among the overlays: guarded around the bottle's life, since smolvm cannot lay them read-only. */
export function guardedFilesOf(overlays: readonly ReadOnlyOverlay[]): string[] {
  return [...new Set(overlays.filter((o) => o.kind === "file").map((o) => o.source))];
}
