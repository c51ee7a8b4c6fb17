import type { Isolation } from "./isolation.js";
import type { NetworkPolicy } from "./network.js";
import type { PublishedPort } from "./ports.js";

/** Where an agent recipe came from; the order is also the precedence (first wins). */
export type AgentOrigin = "project" | "user" | "builtin";

/** How the bottle's image is obtained. Paths are absolute. */
export type ImageSource =
  | { kind: "build"; dockerfile: string; context: string; args: Readonly<Record<string, string>> }
  | { kind: "ref"; ref: string };

export interface Mount {
  /** Absolute host path. */
  source: string;
  /** Absolute path inside the bottle. */
  target: string;
  readOnly: boolean;
}

/**
 * An environment entry. A passthrough entry carries only the name: its value is
 * read from the host environment by the backend at launch, and never stored.
 */
export type EnvEntry = { name: string; passthrough: true } | { name: string; passthrough: false; value: string };

/**
 * Limits from the agent file. A resolved agent carries every one of them
 * (defaults filled in by `effectiveResources`); backends apply that function
 * too, so a hand-built agent still gets the defaults.
 */
export interface Resources {
  cpus?: number;
  /** Bytes. */
  memory?: number;
  /** Most processes (and threads) at once. */
  pids?: number;
}

/** One secret, by the name of the variable that holds it, and the hosts it belongs to. */
export interface CredentialBinding {
  env: string;
  hosts: readonly string[];
}

/** The workspace is always mounted here, and is the working directory. */
export const WORKSPACE_TARGET = "/workspace";

/** An agent recipe with every default applied and every path made absolute. */
export interface ResolvedAgent {
  slug: string;
  description?: string;
  origin: AgentOrigin;
  /** The file the recipe was read from; absent for built-ins defined in code. */
  file?: string;
  /** For a project's agent: the directory that holds its `.claude-bottle`. */
  projectRoot?: string;
  /** Agents of the same name this one hides (a project file named like a built-in, say). */
  shadows?: AgentOrigin[];
  image: ImageSource;
  /** Replaces the image's command; absent means the image's own. */
  command?: readonly string[];
  /** Appended to the command; `start <agent> -- more` appends more. */
  args: readonly string[];
  /** Absolute host directory mounted at /workspace. */
  workspace: string;
  /**
   * The project whose home (logins, settings, transcripts kept between
   * bottles) this bottle uses, where a backend keeps one per project; absent
   * means the workspace. A `--worktree` bottle works in a worktree of the
   * project and keeps the project's home.
   */
  homeProject?: string;
  mounts: readonly Mount[];
  env: readonly EnvEntry[];
  /** False: no network at all. True: the bottle reaches what `egress` allows. */
  network: boolean;
  /**
   * Where a bottle with network may connect. A backend enforces it outside the
   * bottle; absent on an agent built by hand, which is read as `{ mode: "all" }`
   * (still never private addresses).
   */
  egress?: NetworkPolicy;
  /**
   * Secrets the agent uses without holding them (SECURITY.md point 4): the
   * bottle's `env` holds a placeholder; the backend's proxy writes the real
   * value, read from the host at launch, only into request headers sent over
   * TLS to `hosts`. A backend that cannot do this refuses the agent.
   */
  credentials?: readonly CredentialBinding[];
  resources: Resources;
  /** Ports of the bottle on the user's loopback only (`ports:`, `--publish`); absent means none. */
  ports?: readonly PublishedPort[];
  /**
   * Ports of the user's own loopback the bottle reaches at HOST_SERVICES_NAME
   * (`network.host`, `--host-service`), and nothing else of the host. Only
   * from the user's own files or flags: a project file asking is refused.
   */
  hostServices?: readonly number[];
  /**
   * The boundary below the container (agent/isolation.ts); absent means the
   * backend's default. A backend that cannot give `gvisor` refuses the agent.
   */
  isolation?: Isolation;
}
