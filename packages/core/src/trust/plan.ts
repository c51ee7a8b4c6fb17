import { buildNetworkOf, type BuildNetwork } from "../agent/build-network.js";
import type { Isolation } from "../agent/isolation.js";
import type { AgentOrigin, ResolvedAgent } from "../agent/model.js";
import type { NetworkPolicy } from "../agent/network.js";
import { effectiveResources } from "../agent/resources.js";
import type { LocatedBackend } from "../plugin/locate-backend.js";

/**
 * Everything a start is about to do that its configuration decides: what the
 * user is shown before project configuration takes effect, and what their
 * approval is a digest of. Values of passed-through variables never appear,
 * only their names.
 */
export interface BottlePlan {
  agent: {
    slug: string;
    origin: AgentOrigin;
    /** The agent file; absent for a built-in. */
    file: string | null;
    description: string | null;
    /** Agents of the same name this one replaces. Shown so a project cannot silently stand in for `claude`. */
    replaces: AgentOrigin[];
  };
  /** A build's `network`: where its RUN and ADD steps may connect (see BuildNetwork). */
  image: { build: { dockerfile: string; context: string; args: Record<string, string>; network: BuildNetwork } } | { ref: string };
  /** null: the image's own command. */
  command: string[] | null;
  args: string[];
  workspace: string;
  mounts: { source: string; target: string; readOnly: boolean }[];
  env: { passthrough: string[]; literal: Record<string, string> };
  /** "off", or where the bottle may connect. */
  network: "off" | NetworkPolicy;
  /** Variables the bottle holds only a placeholder of, and the hosts whose requests get the value. */
  credentials: { env: string; hosts: string[] }[];
  resources: { cpus: number | null; memoryBytes: number; pids: number };
  /** The boundary below the container; absent: the backend's default (absent rather than null, so plans approved before it keep their digest). */
  isolation?: Isolation;
  backend: {
    name: string;
    /** "built-in", or where its package was found. */
    source: string;
    package: string | null;
    version: string | null;
    /** Found in the project rather than next to claude-bottle: its code is the project's. */
    fromProject: boolean;
  };
}

export function planOf(agent: ResolvedAgent, backend: LocatedBackend): BottlePlan {
  const resources = effectiveResources(agent.resources);
  return {
    agent: {
      slug: agent.slug,
      origin: agent.origin,
      file: agent.file ?? null,
      description: agent.description ?? null,
      replaces: [...(agent.shadows ?? [])],
    },
    image:
      agent.image.kind === "build"
        ? { build: { dockerfile: agent.image.dockerfile, context: agent.image.context, args: { ...agent.image.args }, network: buildNetworkOf(agent) } }
        : { ref: agent.image.ref },
    command: agent.command ? [...agent.command] : null,
    args: [...agent.args],
    workspace: agent.workspace,
    mounts: agent.mounts.map((m) => ({ source: m.source, target: m.target, readOnly: m.readOnly })),
    env: {
      passthrough: agent.env.filter((e) => e.passthrough).map((e) => e.name),
      literal: Object.fromEntries(agent.env.flatMap((e) => (e.passthrough ? [] : [[e.name, e.value]]))),
    },
    network: agent.network ? (agent.egress ?? { mode: "all", deny: [], allowPrivate: [] }) : "off",
    credentials: (agent.credentials ?? []).map((c) => ({ env: c.env, hosts: [...c.hosts] })),
    resources: { cpus: resources.cpus ?? null, memoryBytes: resources.memory, pids: resources.pids },
    ...(agent.isolation && { isolation: agent.isolation }),
    backend: {
      name: backend.name,
      source: backend.kind === "builtin" ? "built-in" : backend.entry,
      package: backend.kind === "builtin" ? null : (backend.packageName ?? null),
      version: backend.kind === "builtin" ? null : (backend.version ?? null),
      fromProject: backend.fromProject,
    },
  };
}
