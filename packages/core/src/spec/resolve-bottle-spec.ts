import { assertHardLimits, type HostFacts } from "../agent/hard-limits.js";
import type { ResolvedAgent } from "../agent/model.js";
import { widenNetworkPolicy } from "../agent/network.js";
import { effectiveResources } from "../agent/resources.js";
import { BOTTLE_SPEC_VERSION, NO_ADDITIONS, type BottleAdditions, type BottleSpec } from "./bottle-spec.js";

export interface BottleSpecInput {
  /** The bottle's name (`bottleName`), chosen by the host before anything is made under it. */
  name: string;
  /** What the hard limits are measured against. */
  host: HostFacts;
  /** `start --allow-host`: hosts the bottle may reach on this run beyond its agent's policy. */
  allowHosts?: readonly string[];
  /**
   * The user's other flags for this run (`--publish`, `--host-service`,
   * `--github`), applied to the agent after its file passed the hard limits:
   * they are the user's own word, as a user-level agent file is, so what a
   * project file may not ask (a host service) a flag may.
   */
  applyFlags?: (agent: ResolvedAgent) => ResolvedAgent;
}

/**
 * The one place a start's agent, host and flags become the bottle's spec:
 * the hard limits are checked here, once, on what the agent files say (the
 * flags are the user's), and every default is filled in.
 * The plan the user approves is rendered from the value this returns.
 */
export function resolveBottleSpec(agent: ResolvedAgent, input: BottleSpecInput): BottleSpec {
  assertHardLimits(agent, input.host);
  const flagged = input.applyFlags ? input.applyFlags(agent) : agent;
  const egress = widenNetworkPolicy(flagged.network ? (flagged.egress ?? { mode: "all", deny: [], allowPrivate: [] }) : undefined, input.allowHosts ?? []);
  const configured: ResolvedAgent = { ...flagged, network: egress !== undefined, ...(egress ? { egress } : {}) };
  if (!egress) delete configured.egress;
  const { resources, credentials, homeProject, ...rest } = configured;
  return {
    ...rest,
    specVersion: BOTTLE_SPEC_VERSION,
    name: input.name,
    homeProject: homeProject ?? configured.workspace,
    credentials: credentials ?? [],
    resources: effectiveResources(resources),
    additions: NO_ADDITIONS,
  };
}

/**
 * The approved spec with what claude-bottle adds once the user has approved
 * it (a worktree, the status and hook directories, the git identity). Only
 * those fields change, and only by what is added, so the plan rendered from
 * the result is the plan that was approved.
 */
export function withAdditions(spec: BottleSpec, additions: BottleAdditions): BottleSpec {
  if (spec.additions !== NO_ADDITIONS) throw new Error("withAdditions: the spec already has its additions");
  return {
    ...spec,
    // homeProject stays: a worktree is the same project, its bottles keep the project's home (a login made there is there too).
    workspace: additions.workspace ?? spec.workspace,
    mounts: [...spec.mounts, ...additions.mounts],
    env: [...spec.env, ...additions.env],
    args: [...additions.args, ...spec.args],
    additions,
  };
}
