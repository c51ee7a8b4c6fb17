import { buildNetworkOf, type BuildNetwork } from "../agent/build-network.js";
import type { Isolation } from "../agent/isolation.js";
import type { AgentOrigin } from "../agent/model.js";
import type { NetworkPolicy } from "../agent/network.js";
import type { PublishedPort } from "../agent/ports.js";
import type { LocatedBackend } from "../plugin/locate-backend.js";
import type { BottleSpec } from "../spec/bottle-spec.js";

/**
 * Everything a start is about to do that its configuration decides, rendered
 * from the bottle's spec: what the user is shown before project configuration
 * takes effect, and what their approval is a digest of. What claude-bottle
 * adds after approval (the spec's `additions`) is not configuration and not
 * shown. Values of passed-through variables never appear, only their names.
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
  /**
   * Both ways, present only when either is asked (so a plan without them, and
   * its approval, is as before): the bottle's ports on the user's loopback, and
   * the ports of the user's loopback the bottle reaches.
   */
  ports?: { published: PublishedPort[]; host: number[] };
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

export function planOf(spec: BottleSpec, backend: LocatedBackend): BottlePlan {
  const agent = spec;
  const { additions } = spec;
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
    args: agent.args.slice(additions.args.length),
    workspace: configured(agent.workspace, additions.workspace, agent.homeProject),
    mounts: withoutAdded(agent.mounts, additions.mounts).map((m) => ({ source: m.source, target: m.target, readOnly: m.readOnly })),
    env: {
      passthrough: withoutAdded(agent.env, additions.env).filter((e) => e.passthrough).map((e) => e.name),
      literal: Object.fromEntries(withoutAdded(agent.env, additions.env).flatMap((e) => (e.passthrough ? [] : [[e.name, e.value]]))),
    },
    network: agent.egress ?? "off",
    credentials: agent.credentials.map((c) => ({ env: c.env, hosts: [...c.hosts] })),
    resources: { cpus: agent.resources.cpus ?? null, memoryBytes: agent.resources.memory, pids: agent.resources.pids },
    ...((agent.ports?.length || agent.hostServices?.length) && {
      ports: { published: (agent.ports ?? []).map((p) => ({ host: p.host, bottle: p.bottle })), host: [...(agent.hostServices ?? [])] },
    }),
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

/** The configured entries of a list claude-bottle's additions were appended to. */
function withoutAdded<T>(all: readonly T[], added: readonly T[]): readonly T[] {
  return all.slice(0, all.length - added.length);
}

/** The configured workspace: a worktree bottle's is the project's, whose home it keeps. */
function configured(workspace: string, added: string | undefined, homeProject: string): string {
  return added === undefined ? workspace : homeProject;
}
