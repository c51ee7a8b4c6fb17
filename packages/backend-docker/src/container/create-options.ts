import { HOST_SERVICES_NAME, WORKSPACE_TARGET, bottleEnvironment, pinnedDirectories, readOnlyOverlays, type BottleSpec, type HostControl } from "@claude-bottle/core";
import type Dockerode from "dockerode";
import type { BottleCredentials, Egress } from "../egress/sidecar.js";
import { HOME_DIR, HOME_VOLUME_TARGET, homeVolumeName } from "./home-volume.js";
import { bottleLabels } from "./labels.js";
import { ISOLATION_LABEL, pidsLimitUnder, type BottleRuntime } from "./isolation.js";

/** The host user the bottle runs as, so files it writes in the workspace are the user's. */
export interface HostUser {
  uid: number;
  gid: number;
}

export interface ContainerPlan {
  /** The bottle as core resolved it; its name is the container's. */
  spec: BottleSpec;
  /** Image ID or reference to run. */
  image: string;
  /** The image's own entrypoint and command, to append the agent's args to when it sets no command. */
  imageConfig: { Entrypoint?: string[] | null; Cmd?: string[] | null };
  extraArgs: readonly string[];
  /** Passthrough values read from the host at launch; never stored anywhere else. */
  env: Readonly<Record<string, string | undefined>>;
  /** Undefined where the host has no numeric users (Windows): the image's user is kept. */
  user: HostUser | undefined;
  /** Allocate a TTY (an attached terminal, or a detached bottle meant to be attached from one). */
  tty: boolean;
  /**
   * The terminal's size, for the TTY to have from its first byte: the agent
   * draws its first screen at the right width instead of drawing it again
   * after a resize. Engines before API 1.42 ignore it; the resize that
   * follows the start covers them.
   */
  consoleSize?: { rows: number; columns: number };
  /** Keep stdin open; with `stdinOnce` it closes when the attached client's input ends. */
  openStdin: boolean;
  stdinOnce: boolean;
  /** Let the engine remove the container when it exits (attached runs). */
  autoRemove: boolean;
  /** Paths the host obeys (agent files, git hooks and config): mounted read-only wherever the bottle could reach them. */
  controls: readonly HostControl[];
  /** For a bottle with network: its own network and the proxy on it, its only way out. */
  egress?: Egress;
  /** The engine runtime it runs on (runc, or gVisor's runsc); absent: the engine's default. */
  runtime?: BottleRuntime;
}

/** The host services name at the proxy's address, and past the proxy: the way to them is direct (see ports/host-services.ts). */
function hostServicesRoute(plan: ContainerPlan): { extraHosts: string[]; noProxy: string[] } {
  if (!plan.egress || !plan.spec.hostServices?.length) return { extraHosts: [], noProxy: [] };
  return { extraHosts: [`${HOST_SERVICES_NAME}:${new URL(plan.egress.proxyUrl).hostname}`], noProxy: [HOST_SERVICES_NAME] };
}

/** `docker create` options for a bottle: hardened, labelled, with the workspace and home mounted. */
export function containerCreateOptions(plan: ContainerPlan): Dockerode.ContainerCreateOptions {
  const { spec } = plan;
  const labels = { ...bottleLabels(spec), ...(plan.runtime && { [ISOLATION_LABEL]: plan.runtime.isolation }) };
  const binds = [{ source: spec.workspace, target: WORKSPACE_TARGET }, ...spec.mounts];
  const overlays = readOnlyOverlays(plan.controls, binds);
  const mounts: Dockerode.MountSettings[] = [
    { Type: "bind", Source: spec.workspace, Target: WORKSPACE_TARGET },
    // Created beforehand with its labels (ensureHomeVolume).
    { Type: "volume", Source: homeVolumeName(spec.slug, spec.homeProject), Target: HOME_VOLUME_TARGET },
    ...spec.mounts.map(
      (m): Dockerode.MountSettings => ({ Type: "bind", Source: m.source, Target: m.target, ReadOnly: m.readOnly }),
    ),
    // The engine mounts parents before children, so these land on top of the binds that expose them:
    // first the directories above each control, pinned so they cannot be renamed, then the controls.
    ...pinnedDirectories(overlays, binds).map(
      (p): Dockerode.MountSettings => ({ Type: "bind", Source: p.source, Target: p.target, ReadOnly: p.readOnly }),
    ),
    ...overlays.map(
      (o): Dockerode.MountSettings => ({ Type: "bind", Source: o.source, Target: o.target, ReadOnly: true }),
    ),
    ...(plan.egress ? [{ Type: "bind" as const, Source: plan.egress.resolvConf, Target: "/etc/resolv.conf", ReadOnly: true }] : []),
    ...caMounts(plan.egress?.credentials),
  ];
  const { resources } = spec;
  const hostConfig: Dockerode.HostConfig = {
    Mounts: mounts,
    AutoRemove: plan.autoRemove,
    // A small init as PID 1 forwards signals and reaps zombies, which agents written for a shell rarely do.
    Init: true,
    SecurityOpt: ["no-new-privileges"],
    // The agent edits files it owns and runs tools; it needs no capability beyond an ordinary user's.
    CapDrop: ["ALL"],
    ...networkSettings(plan),
    ...(resources.cpus !== undefined ? { NanoCpus: Math.round(resources.cpus * 1e9) } : {}),
    // Limits by default: a fork bomb or a runaway build stops inside the bottle. Swap is no way around the memory limit.
    Memory: resources.memory,
    MemorySwap: resources.memory,
    PidsLimit: pidsLimitUnder(plan.runtime, resources.pids),
    ...(plan.runtime && { Runtime: plan.runtime.runtime }),
    ...(plan.tty && plan.consoleSize ? { ConsoleSize: [plan.consoleSize.rows, plan.consoleSize.columns] } : {}),
  };
  return {
    name: spec.name,
    Image: plan.image,
    ...commandFor(plan),
    Env: environment(plan),
    WorkingDir: WORKSPACE_TARGET,
    ...(plan.user ? { User: `${plan.user.uid}:${plan.user.gid}` } : {}),
    Labels: labels,
    Tty: plan.tty,
    OpenStdin: plan.openStdin,
    StdinOnce: plan.stdinOnce,
    AttachStdin: plan.openStdin,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: hostConfig,
  };
}

/**
 * The agent's `command` replaces the image's entrypoint and command; its args
 * and the extra args follow. Without a command the args are appended to what
 * the image would run.
 */
function commandFor(plan: ContainerPlan): Pick<Dockerode.ContainerCreateOptions, "Entrypoint" | "Cmd"> {
  const args = [...plan.spec.args, ...plan.extraArgs];
  if (plan.spec.command) return { Entrypoint: [...plan.spec.command], Cmd: args };
  if (args.length === 0) return {};
  if (plan.imageConfig.Entrypoint?.length) return { Cmd: args };
  return { Cmd: [...(plan.imageConfig.Cmd ?? []), ...args] };
}

/**
 * No network at all, or the bottle's own internal network where the proxy is
 * the only thing it reaches. The engine's embedded resolver would answer (and,
 * before engine 26, forward) any name asked on an internal network
 * (CVE-2024-29018): its upstream is set to the bottle's own loopback, where
 * nothing answers, so no name leaves by DNS.
 */
function networkSettings(plan: ContainerPlan): Dockerode.HostConfig {
  if (!plan.spec.network) return { NetworkMode: "none" };
  if (!plan.egress) return {};
  const { extraHosts } = hostServicesRoute(plan);
  return { NetworkMode: plan.egress.network, Dns: ["127.0.0.1"], DnsSearch: [], DnsOptions: ["timeout:1", "attempts:1"], ...(extraHosts.length && { ExtraHosts: extraHosts }) };
}

/**
 * HOME unless the agent sets its own; unset passthroughs are left out, not
 * set empty. The proxy settings come last: they are the bottle's only way out,
 * in the spellings curl, Python, Go and Node (NODE_USE_ENV_PROXY) read.
 */
function environment(plan: ContainerPlan): string[] {
  const env = new Map<string, string>([["HOME", HOME_DIR], ...Object.entries(bottleEnvironment(plan.spec.env, plan.env))]);
  if (plan.egress) {
    for (const name of ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"]) env.set(name, plan.egress.proxyUrl);
    for (const name of ["NO_PROXY", "no_proxy"]) env.set(name, ["localhost", "127.0.0.1", "::1", ...hostServicesRoute(plan).noProxy].join(","));
    env.set("NODE_USE_ENV_PROXY", "1");
  }
  const credentials = plan.egress?.credentials;
  if (credentials) {
    // The bottle holds placeholders; the proxy writes the values into requests to the bound hosts only.
    for (const [name, placeholder] of Object.entries(credentials.placeholders)) env.set(name, placeholder);
    env.set("NODE_EXTRA_CA_CERTS", CA_TARGET);
    if (credentials.bundleFile) for (const name of CA_BUNDLE_VARIABLES) env.set(name, CA_BUNDLE_TARGET);
  }
  return [...env].map(([name, value]) => `${name}=${value}`);
}

/** Where the bottle finds the CA that vouches for its bound hosts, and the bundle with it. */
const CA_TARGET = "/etc/claude-bottle/egress-ca.pem";
const CA_BUNDLE_TARGET = "/etc/claude-bottle/ca-bundle.pem";
/** The variables OpenSSL, curl, Python's requests and git read a CA bundle from. */
const CA_BUNDLE_VARIABLES = ["SSL_CERT_FILE", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "GIT_SSL_CAINFO"];

function caMounts(credentials: BottleCredentials | undefined): Dockerode.MountSettings[] {
  if (!credentials) return [];
  return [
    { Type: "bind", Source: credentials.caFile, Target: CA_TARGET, ReadOnly: true },
    ...(credentials.bundleFile ? [{ Type: "bind" as const, Source: credentials.bundleFile, Target: CA_BUNDLE_TARGET, ReadOnly: true }] : []),
  ];
}
