import { lstatSync, statSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { BottleError, ErrorCodes } from "../errors.js";
import { isInside, overlaps, realPath } from "./host-paths.js";
import type { ResolvedAgent } from "./model.js";

/** What the limits are measured against: the host's home, environment and user. */
export interface HostFacts {
  home: string;
  env: Readonly<Record<string, string | undefined>>;
  /** The host user's numeric id, where the platform has one (rootless engines keep their socket under it). */
  uid?: number;
  /**
   * Variables that hold the user's credentials for claude-bottle (those the
   * built-in agents bind, which `claude-bottle login` keeps). A project's agent
   * gets them only as placeholders, through `credentials:`.
   */
  credentialNames?: readonly string[];
}

/**
 * Where container engines keep the socket that controls them. Whoever holds
 * one is root on the host, so no bottle ever gets it, under any of its names.
 */
export function engineSocketPaths({ home, env, uid }: HostFacts): string[] {
  const runtimeDirs = [env.XDG_RUNTIME_DIR, uid === undefined ? undefined : `/run/user/${uid}`].filter(
    (dir): dir is string => !!dir && isAbsolute(dir),
  );
  const fromEnv = [env.DOCKER_HOST, env.CONTAINER_HOST]
    .map((value) => /^unix:\/\/(\/.+)$/.exec(value ?? "")?.[1])
    .filter((path): path is string => path !== undefined);
  return [
    ...fromEnv,
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/podman/podman.sock",
    "/var/run/podman/podman.sock",
    "/run/containerd/containerd.sock",
    "/var/run/containerd/containerd.sock",
    "/run/buildkit/buildkitd.sock",
    ...runtimeDirs.flatMap((dir) => [join(dir, "docker.sock"), join(dir, "podman", "podman.sock"), join(dir, "containerd", "containerd.sock")]),
    join(home, ".docker", "run", "docker.sock"),
    join(home, ".docker", "desktop", "docker.sock"),
    join(home, ".docker", "desktop", "docker-cli.sock"),
    join(home, "Library", "Containers", "com.docker.docker", "Data", "docker.raw.sock"),
    join(home, "Library", "Containers", "com.docker.docker", "Data", "docker-cli.sock"),
    join(home, ".colima", "default", "docker.sock"),
    join(home, ".colima", "docker.sock"),
    join(home, ".rd", "docker.sock"),
    join(home, ".orbstack", "run", "docker.sock"),
  ];
}

/** A socket by one of the engines' own names, wherever it lives. */
const ENGINE_SOCKET_NAME = /(?:^|\/)(?:docker|podman|containerd|buildkitd)(?:-cli|\.raw)?\.sock$/;

/**
 * Directories and files that hold credentials or claude-bottle's own
 * configuration and approvals. Only a user-level agent file may mount them,
 * and only read-only: a project file is written by strangers, and a bottle
 * that could write here could approve itself or plant a key.
 */
export function credentialPaths({ home, env }: HostFacts): string[] {
  const configHome = env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(home, ".config");
  const stateHome = env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : join(home, ".local", "state");
  const inHome = [
    ".ssh",
    ".aws",
    ".gnupg",
    ".kube",
    ".docker",
    ".azure",
    ".git-credentials",
    ".netrc",
    ".npmrc",
    ".pypirc",
    ".password-store",
    ".terraform.d",
    ".vault-token",
    ".claude",
    ".claude.json",
    join(".local", "share", "keyrings"),
  ].map((path) => join(home, path));
  const inConfig = ["gcloud", "gh", "hub", "op", "claude-bottle"].flatMap((name) => [join(configHome, name), join(home, ".config", name)]);
  return [...new Set([...inHome, ...inConfig, join(stateHome, "claude-bottle")])];
}

/**
 * Refuses what no agent file may ask for, whoever wrote it: the engine's
 * socket, `/`, the home directory (or anything holding it), credentials from
 * a project file or writable, and, for a project's agent, build inputs from
 * outside the project. Every error names the file, the field and why.
 */
export function assertHardLimits(agent: ResolvedAgent, facts: HostFacts): void {
  const { projectRoot } = agent;
  const where = agent.file ?? `the built-in agent "${agent.slug}"`;
  const refuse = (field: string, why: string, hint: string): never => {
    throw new BottleError(ErrorCodes.AGENT_REFUSED, `${where}: ${field}: ${why}`, { hint });
  };
  // Resolved at every check, never kept: a symlink made since the last one (~/.ssh pointing elsewhere) must count.
  const home = realPath(facts.home);
  const sockets = engineSocketPaths(facts).map(realPath);
  const credentials = credentialPaths(facts).map(realPath);

  const neverAllowed = (field: string, source: string, given: string) => {
    if (source === "/") refuse(field, `${given} is the host's root directory; a bottle never gets it.`, "Name the one directory the agent needs.");
    if (isInside(home, source)) {
      refuse(field, `${given} is or holds your home directory; a bottle never gets it.`, "Name a project directory inside your home instead.");
    }
    // A socket that is not there yet cannot be exposed by a directory holding it; naming it exactly is refused anyway.
    const holdsSocket = sockets.some((socket) => socket === source || (isInside(socket, source) && exists(socket)));
    if (holdsSocket || (ENGINE_SOCKET_NAME.test(source) && isSocket(source))) {
      refuse(field, `${given} is or holds a container engine's socket; a bottle never gets it (it would be root on the host).`, "Remove it. A bottle never reaches the engine that runs it.");
    }
  };

  const workspace = realPath(agent.workspace);
  neverAllowed("workspace", workspace, agent.workspace);
  const credential = credentials.find((path) => overlaps(workspace, path));
  if (credential) {
    refuse("workspace", `${agent.workspace} overlaps ${credential}, which holds credentials; the workspace is always writable.`, "Run from a project directory.");
  }

  agent.mounts.forEach((mount, index) => {
    const field = `mounts[${index}].source`;
    const source = realPath(mount.source);
    neverAllowed(field, source, mount.source);
    const held = credentials.find((path) => overlaps(source, path));
    if (!held) return;
    if (agent.origin === "project") {
      refuse(field, `${mount.source} overlaps ${held}, which holds credentials; only your own agent files may mount it.`, "Move this agent to ~/.config/claude-bottle/agents/ if you mean it, or remove the mount.");
    }
    if (!mount.readOnly) {
      refuse(field, `${mount.source} overlaps ${held}, which holds credentials; it can only be mounted read-only.`, "Drop `readOnly: false` from this mount.");
    }
  });

  if (agent.origin === "project" && agent.egress?.allowPrivate.length) {
    refuse("network.allowPrivate", `${agent.egress.allowPrivate.join(", ")} would let the bottle reach your machine or your network; only your own agent files may open private ranges.`, "Move this agent to ~/.config/claude-bottle/agents/ if you mean it, or remove allowPrivate.");
  }

  if (agent.origin === "project" && agent.hostServices?.length) {
    refuse("network.host", `${agent.hostServices.join(", ")} would let the bottle reach services on your machine; only your own agent files (or --host-service) may name them.`, "Move this agent to ~/.config/claude-bottle/agents/ if you mean it, or pass --host-service PORT to start.");
  }

  if (agent.origin === "project") {
    agent.env.forEach((entry, index) => {
      if (!facts.credentialNames?.includes(entry.name)) return;
      // A literal is refused too: a project's own token under this name would sign the user's agent into a stranger's account.
      refuse(
        `env[${index}]`,
        `${entry.name} holds your credential; a project's agent never gets it ${entry.passthrough ? "from your environment" : "as a value of its own"}.`,
        `Remove ${entry.name} from env. To use the credential, bind it under credentials: with the hosts it is for; the bottle then sees only a placeholder.`,
      );
    });
  }

  if (agent.origin === "project" && projectRoot && agent.image.kind === "build") {
    const root = realPath(projectRoot);
    for (const [field, path] of [
      ["build.dockerfile", agent.image.dockerfile],
      ["build.context", agent.image.context],
    ] as const) {
      if (!isInside(realPath(path), root)) {
        refuse(field, `${path} is outside the project (${projectRoot}); a project's agent builds from the project only.`, "Keep the Dockerfile and the build context inside the project.");
      }
    }
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}
