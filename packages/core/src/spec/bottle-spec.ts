import type { CredentialBinding, EnvEntry, Mount, ResolvedAgent } from "../agent/model.js";
import type { NetworkPolicy } from "../agent/network.js";

/** The shape of `BottleSpec` this core makes; a backend reads the fields of this version. */
export const BOTTLE_SPEC_VERSION = 1 as const;

/** The limits a bottle runs with, every default filled in. */
export interface EffectiveResources {
  cpus?: number;
  /** Bytes. */
  memory: number;
  /** Most processes (and threads) at once. */
  pids: number;
}

/**
 * What claude-bottle itself adds to a bottle, never its configuration: a
 * `--worktree` bottle's worktree as the workspace and its git directory, the
 * status and hook directories, the user's git identity, the hook settings
 * given to the built-in `claude`. Already part of the spec's own fields; listed
 * apart so the plan can say so and the approval, which is of the
 * configuration, does not change with every bottle.
 */
export interface BottleAdditions {
  /** Replaces the agent's workspace (a `--worktree` bottle's worktree). */
  workspace?: string;
  mounts: readonly Mount[];
  env: readonly EnvEntry[];
  /** Put before the agent's own args. */
  args: readonly string[];
}

export const NO_ADDITIONS: BottleAdditions = { mounts: [], env: [], args: [] };

/**
 * One bottle, fully resolved by core from the agent, the host and the user's
 * flags, and checked against the hard limits once: what the plan shows for
 * approval and what the backend translates, the same value. A backend reads
 * it and never re-derives a default or re-checks a limit core applied.
 *
 * The agent's own fields keep their names and meaning (see `ResolvedAgent`);
 * what core resolves on top:
 */
export interface BottleSpec extends Omit<ResolvedAgent, "resources" | "credentials" | "egress" | "homeProject"> {
  readonly specVersion: typeof BOTTLE_SPEC_VERSION;
  /** The bottle's name: the backend names it exactly so, and fails with NAME_CONFLICT when it is taken. */
  readonly name: string;
  /** The project whose home the bottle uses (the workspace's, a worktree's repository's). */
  readonly homeProject: string;
  /** Where the bottle may connect: present exactly when `network` is true (`--allow-host` widened in). */
  readonly egress?: NetworkPolicy;
  readonly credentials: readonly CredentialBinding[];
  readonly resources: EffectiveResources;
  readonly additions: BottleAdditions;
}
