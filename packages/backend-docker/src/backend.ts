import { randomBytes } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import {
  BottleError,
  ErrorCodes,
  abortedError,
  assertAgentPaths,
  bottleName,
  bottleNotRunningError,
  buildNetworkOf,
  bottleRunningError,
  ENFORCEMENTS,
  prepareHostControls,
  phase,
  throwIfAborted,
  type Backend,
  type BackendContext,
  type BackendFactory,
  type Capability,
  type Enforcement,
  type LaunchOptions,
  type Launched,
  type Prepared,
  type ResolvedAgent,
  type Stdio,
} from "@claude-bottle/core";
import type Dockerode from "dockerode";
import { connectDocker, engineOf, type ConnectOptions, type DockerConnection } from "@claude-bottle/docker-engine";
import { connectStdio } from "./container/attach.js";
import { findBottle, listBottles } from "./container/bottles.js";
import { containerCreateOptions, type HostUser } from "./container/create-options.js";
import { diagnose } from "./container/doctor.js";
import { execInBottle } from "./container/exec.js";
import { ensureHomeVolume, homeVolumeName, legacyHomeVolumeName, listHomeVolumes, prepareHomeDirectory } from "./container/home-volume.js";
import { BACKEND_NAME } from "./container/labels.js";
import {
  attachContainer,
  createContainer,
  inspectContainer,
  removeContainer,
  resizeContainer,
  startContainer,
  stopContainer,
} from "./container/lifecycle.js";
import { copyLogs } from "./container/logs.js";
import { ownerLabels } from "./container/owner.js";
import { reapUnstarted } from "./container/reap.js";
import { registerWait, type WaitCondition } from "./container/wait.js";
import type { EngineApi } from "@claude-bottle/docker-engine";
import { engineMessage, statusCodeOf } from "@claude-bottle/docker-engine";
import { ensureAgentImage, planAgentImage, type ImagePlan } from "@claude-bottle/docker-engine";
import type { BuildNetworkMode } from "@claude-bottle/docker-engine";
import { copyDenials } from "./egress/denials.js";
import { ensureProxyImage, proxyImageRef } from "./egress/proxy-image.js";
import { restartEgress } from "./egress/restart.js";
import { reapEgress } from "./egress/reap.js";
import {
  removeEgress,
  removeEgressInBackground,
  startEgress,
  stopEgress,
  type Egress,
  type EgressSettings,
  type ProxyCredentials,
} from "./egress/sidecar.js";

export interface DockerBackendOptions {
  /** An engine to use instead of finding one (embedding, tests). */
  docker?: Dockerode;
  /** Where to look for the engine; the environment defaults to the context's. */
  connect?: ConnectOptions;
  /**
   * The user bottles run as. Default: the host user (process.getuid/getgid),
   * so files written in the workspace are yours; `null` keeps the image's user.
   */
  user?: HostUser | null;
  /** The random part of bottle names; replaceable to make names predictable. */
  randomHex?: () => string;
  /**
   * The egress proxy's settings beyond the policy: its image (default
   * CLAUDE_BOTTLE_PROXY_IMAGE, else the pinned official Node image), names it
   * resolves from a hosts list, its DNS servers, networks it joins.
   */
  egress?: Partial<EgressSettings>;
}

/** What prepare hands to launch. */
export interface DockerPrepared extends Prepared<typeof BACKEND_NAME> {
  readonly image: ImagePlan;
}

const CAPABILITIES: readonly Capability[] = ["detach", "list", "stop", "remove", "logs", "attach", "exec", "doctor", "homes", "restartProxy"];

/** All of a bottle's spec: the egress proxy keeps the network policy and credentials, the engine the limits and mounts. */
const ENFORCED: readonly Enforcement[] = ENFORCEMENTS;

/** Seconds a stopping bottle gets to exit before it is killed. */
const STOP_GRACE_SECONDS = 10;

/** Runs agents in containers on a Docker engine. */
export const createDockerBackend: BackendFactory<DockerBackendOptions, DockerPrepared> = (options = {}) => {
  const user = options.user === undefined ? hostUser() : (options.user ?? undefined);
  const randomHex = options.randomHex ?? (() => randomBytes(3).toString("hex"));
  const given: DockerConnection | undefined = options.docker && { ...engineOf(options.docker), source: "the engine passed in the options", remote: false };
  let connection: Promise<DockerConnection> | undefined;

  /** One connection per backend, found on first use; a failed attempt is retried next time. */
  const engine = (ctx: BackendContext): Promise<DockerConnection> => {
    if (given) return Promise.resolve(given);
    connection ??= connectDocker({ env: ctx.env, ...options.connect }).then(
      (found) => {
        ctx.logger.debug(`docker: using the engine at ${found.source}`);
        return found;
      },
      (error: unknown) => {
        connection = undefined;
        throw error;
      },
    );
    return connection;
  };

  const backend: Backend<DockerPrepared> = {
    // The contract version this code implements, written out as core's README asks of every backend.
    apiVersion: 1,
    name: BACKEND_NAME,
    capabilities: CAPABILITIES,
    enforces: ENFORCED,

    async prepare(agent: ResolvedAgent, ctx: BackendContext): Promise<DockerPrepared> {
      throwIfAborted(ctx.signal);
      validatePaths(agent, ctx);
      // Finding the engine waits on a round trip, hashing the build inputs on the disk: overlap them.
      const [, image] = await Promise.all([engine(ctx), planAgentImage(agent)]);
      throwIfAborted(ctx.signal);
      return { backend: BACKEND_NAME, agent, image };
    },

    async launch(prepared: DockerPrepared, opts: LaunchOptions, ctx: BackendContext): Promise<Launched> {
      throwIfAborted(ctx.signal);
      const { agent, image: plan } = prepared;
      // Again, as the directories may have gone since prepare.
      validatePaths(agent, ctx);
      const docker = await engine(ctx);
      const { api } = docker;
      // The home volume does not depend on the image: look it up while the image is checked or built.
      const homeVolume = ensureHomeVolume(api, agent.slug, agent.homeProject ?? agent.workspace, user);
      void noticeLegacyHome(api, agent.slug, ctx);
      homeVolume.catch(() => {}); // awaited below; a build failure must not leave it unobserved
      const name = opts.name ?? bottleName(agent.slug, randomHex());
      // The bottle's way out is made while the image is checked or built (its proxy pulled first if the engine lacks it).
      const egress = agent.network ? startBottleEgress(docker, name, agent, ctx) : undefined;
      egress?.catch(() => {}); // awaited below; a build failure must not leave it unobserved
      let detachedBottle = false;
      let ranToEnd = false;
      try {
        const image = await ensureAgentImage(docker, plan, agent.slug, ctx, () => buildNetworkFor(agent, egress));
        throwIfAborted(ctx.signal);
        const controls = await prepareHostControls(agent.workspace);
        const egressReady = await egress;
        const createOptions = containerCreateOptions({
          controls,
          ...(egressReady && { egress: egressReady }),
          agent,
          name,
          image: image.id,
          imageConfig: image.config,
          extraArgs: opts.extraArgs,
          env: ctx.env,
          user,
          tty: opts.stdio.stdin.isTTY === true,
          ...terminalSize(opts.stdio),
          openStdin: true,
          // Attached: the agent's stdin ends with ours. Detached: it stays open for a later attach.
          stdinOnce: !opts.detach,
          autoRemove: !opts.detach,
        });

        let container: string | undefined;
        let handedOver = false;
        try {
          container = await phase(ctx, "create", `Creating ${name}`, async () => {
            const home = await homeVolume;
            // Its start's pid: a bottle created by a start that died before starting it is reaped by the next `ls` (container/reap.ts).
            const created = await createContainer(api, { ...createOptions, Labels: { ...createOptions.Labels, ...ownerLabels() } });
            container = created;
            if (home !== "ready") {
              // Rare (a new or foreign volume): tar-stream is loaded for it rather than on every start.
              await prepareHomeDirectory(api, created, user).catch(async (error: unknown) => {
                // A new volume's label says HOME is made: the volume goes too, so the next start makes it again.
                if (home === "created") {
                  await removeContainer(api, created, { force: true }).catch(() => {});
                  await api.json("DELETE", `/volumes/${homeVolumeName(agent.slug, agent.homeProject ?? agent.workspace)}`).catch(() => {});
                }
                throw error;
              });
            }
            throwIfAborted(ctx.signal);
            return created;
          });
          if (opts.detach) {
            await phase(ctx, "start", `Starting ${name}`, () => startContainer(api, container!));
            handedOver = true;
            detachedBottle = true;
            return { detached: true, name };
          }
          const exitCode = await runAttached(api, container, opts.stdio, ctx, {
            config: createOptions,
            waitFor: "removed",
            ownsBottle: true,
            title: `Attaching to ${name}`,
          });
          handedOver = true;
          ranToEnd = true;
          return { detached: false, name, exitCode };
        } finally {
          // Whatever stopped the launch short (an error, Ctrl-C), nothing is left behind.
          if (container && !handedOver) await removeContainer(api, container, { force: true }).catch(() => {});
        }
      } finally {
        // An attached bottle is gone by now (removed as it exited), or never started: its proxy and network go too.
        // A detached one keeps them until stop and rm.
        // After a run that ended on its own, in the background: the user does not wait for it.
        if (egress && !detachedBottle) {
          await egress.then(
            () => (ranToEnd ? removeEgressInBackground(api, name, ctx.cacheDir, ctx.env) : removeEgress(api, name, ctx.cacheDir)),
            () => {},
          );
        }
      }
    },

    async list(ctx) {
      const { api } = await engine(ctx);
      // What a killed CLI left (a bottle it never started, a proxy, a network, their files) goes with the next look.
      await reapUnstarted(api).catch((error: unknown) => ctx.logger.debug(`reaping unstarted bottles: ${String(error)}`));
      const [bottles] = await Promise.all([listBottles(api), reapEgress(api, ctx.cacheDir).catch((error: unknown) => ctx.logger.debug(`reaping egress proxies: ${String(error)}`))]);
      return bottles;
    },

    async stop(name, _opts, ctx) {
      const { api } = await engine(ctx);
      await stopContainer(api, await findBottle(api, name), STOP_GRACE_SECONDS);
      await stopEgress(api, name);
    },

    async remove(name, opts, ctx) {
      const { api } = await engine(ctx);
      await removeContainer(api, await findBottle(api, name), { force: opts.force }).catch((error: unknown) => {
        if (statusCodeOf(error) === 409) throw bottleRunningError(name, { cause: error });
        if (statusCodeOf(error) !== 404) throw error;
      });
      await removeEgress(api, name, ctx.cacheDir);
    },

    async logs(name, opts, ctx) {
      const { api } = await engine(ctx);
      const container = await findBottle(api, name);
      if (opts.egress) return copyDenials(api, name, opts, ctx.signal);
      await copyLogs(api, container, opts, ctx.signal);
    },

    async attach(name, { stdio }, ctx) {
      const { api } = await engine(ctx);
      const container = await findBottle(api, name);
      const { Config } = await requireRunning(api, container, name);
      return runAttached(api, container, stdio, ctx, {
        config: Config,
        waitFor: "next-exit",
        ownsBottle: false,
        title: `Attaching to ${name}`,
      });
    },

    async exec(name, opts, ctx) {
      const { api } = await engine(ctx);
      const container = await findBottle(api, name);
      const { Config } = await requireRunning(api, container, name);
      // The bottle's own user, as it was created; empty means the image's.
      return execInBottle(api, container, opts.command, opts.stdio, Config.User || undefined);
    },

    async restartProxy(name, _opts, ctx) {
      const { api } = await engine(ctx);
      const info = await requireRunning(api, await findBottle(api, name), name);
      await restartEgress(api, name, info, { image: proxyImageRef(ctx.env), ...options.egress }, ctx);
    },

    async homes(ctx) {
      return listHomeVolumes((await engine(ctx)).api);
    },

    async removeHome(name, ctx) {
      const { api } = await engine(ctx);
      if (!(await listHomeVolumes(api)).some((home) => home.name === name)) {
        throw new BottleError(ErrorCodes.BOTTLE_NOT_FOUND, `There is no home called ${name} on the docker backend.`, {
          hint: "List the homes with `claude-bottle ls --homes`.",
        });
      }
      await api.json("DELETE", `/volumes/${encodeURIComponent(name)}`).catch((error: unknown) => {
        if (statusCodeOf(error) !== 409) throw error;
        throw new BottleError(ErrorCodes.HOME_IN_USE, `The home ${name} is in use by a bottle.`, {
          hint: "Remove the bottles of that project and agent first (claude-bottle ls, claude-bottle rm).",
          cause: error,
        });
      });
    },

    async doctor(ctx) {
      return diagnose(given, {
        env: ctx.env,
        ...options.connect,
      });
    },
  };

  /** The bottle's network and proxy, for its policy; an agent built by hand without one gets everything but private addresses. */
  async function startBottleEgress(docker: DockerConnection, name: string, agent: ResolvedAgent, ctx: BackendContext): Promise<Egress> {
    const settings: EgressSettings = { image: proxyImageRef(ctx.env), ...options.egress };
    const policy = agent.egress ?? { mode: "all" as const, deny: [], allowPrivate: [] };
    const [credentials] = await Promise.all([proxyCredentials(agent, ctx.env), ensureProxyImage(docker, settings.image, ctx)]);
    return startEgress(docker.api, name, policy, settings, ctx, credentials);
  }

  return backend;
};

/**
 * A build's network as the plan says (buildNetworkOf): none, the bottle's own
 * network and proxy (made alongside the image check, so a build waits for it and
 * a cached image does not), or the engine's for the built-in agent.
 */
async function buildNetworkFor(agent: ResolvedAgent, egress: Promise<Egress> | undefined): Promise<BuildNetworkMode | undefined> {
  const wanted = buildNetworkOf(agent);
  if (wanted === "engine") return undefined;
  if (wanted === "off" || egress === undefined) return { mode: "none" };
  const { network, proxyUrl } = await egress;
  return { mode: network, proxyUrl };
}

/**
 * The credentials of an agent whose values are set (here, or by `login`): a
 * placeholder each, and a CA for the bottle made now, which only the proxy
 * ever holds the key of. Undefined when there is nothing to inject.
 */
async function proxyCredentials(agent: ResolvedAgent, env: Readonly<Record<string, string | undefined>>): Promise<ProxyCredentials | undefined> {
  const bindings = (agent.credentials ?? []).filter((c) => env[c.env]);
  if (!bindings.length) return undefined;
  // Loaded only here: the CA maker is not needed by a bottle without credentials.
  const { createBottleCa } = await import("@claude-bottle/egress-proxy");
  const hosts = [...new Set(bindings.flatMap((b) => b.hosts))];
  return {
    bindings: bindings.map((b) => ({ env: b.env, hosts: [...b.hosts], placeholder: placeholderFor(env[b.env]!) })),
    values: Object.fromEntries(bindings.map((b) => [b.env, env[b.env]!])),
    ca: createBottleCa({ hosts, label: `claude-bottle ${agent.slug}` }),
  };
}

/**
 * A placeholder shaped like the value where that matters: an Anthropic key's
 * prefix (`sk-ant-api03-`) is kept so a client's own format check passes; the
 * rest is random, so it never matches anything but itself.
 */
function placeholderFor(value: string): string {
  const prefix = /^(sk-ant-[a-z0-9]+-)/.exec(value)?.[1] ?? "";
  return `${prefix}claude-bottle-placeholder-${randomBytes(16).toString("hex")}`;
}

/**
 * Homes used to be one per agent, shared by every project. Such a volume is
 * no longer used and never deleted by us: the user hears once how to remove it.
 * The engine is asked once per agent, not on every start: a marker says it was.
 */
async function noticeLegacyHome(api: EngineApi, slug: string, ctx: BackendContext): Promise<void> {
  const marker = join(ctx.cacheDir, "docker", "notices", `legacy-home-${slug}`);
  if (existsSync(marker)) return;
  const found = await api.json("GET", `/volumes/${legacyHomeVolumeName(slug)}`).then(
    () => true,
    (error: unknown) => (statusCodeOf(error) === 404 ? false : undefined),
  );
  // Unknown (the engine did not say): asked again next time.
  if (found === undefined) return;
  if (found) {
    ctx.logger.info(
      `homes are now one per project; the shared home volume ${legacyHomeVolumeName(slug)} is no longer used. Remove it when you no longer need what is in it: docker volume rm ${legacyHomeVolumeName(slug)}`,
    );
  }
  await mkdir(dirname(marker), { recursive: true }).then(() => writeFile(marker, "")).catch(() => {});
}

/** The attached terminal's size, where stdout is one that knows it. */
function terminalSize(stdio: Stdio): { consoleSize?: { rows: number; columns: number } } {
  const { rows, columns } = stdio.stdout;
  return rows && columns ? { consoleSize: { rows, columns } } : {};
}

function hostUser(): HostUser | undefined {
  if (typeof process.getuid !== "function" || typeof process.getgid !== "function") return undefined;
  return { uid: process.getuid(), gid: process.getgid() };
}

/** Core's checks (hard limits, workspace, mount sources); resolveAgent makes them too, but an agent built by hand gets the same. */
function validatePaths(agent: ResolvedAgent, ctx: BackendContext): void {
  assertAgentPaths(agent, { env: ctx.env });
}

async function requireRunning(api: EngineApi, container: string, name: string): Promise<Dockerode.ContainerInspectInfo> {
  const info = await inspectContainer(api, container);
  // A paused bottle says Running too, but the engine refuses to attach or exec in it.
  if (!info.State.Running || info.State.Paused) {
    throw bottleNotRunningError(name, info.State.Status, info.State.Paused ? { hint: `Unpause it first: docker unpause ${name}` } : {});
  }
  return info;
}

/**
 * Connects the user's stdio to the bottle's main process and resolves with
 * its exit code. A bottle the launch owns is started here, after the wait is
 * registered and the stream attached, so no output and no exit is missed.
 * Ctrl-C outside a terminal (the signal) throws ABORTED: it stops a bottle the
 * launch owns, and only leaves one that was attached to. In a terminal Ctrl-C
 * is a byte the agent receives. The detach keys end the session and leave the
 * bottle running, resolving with 0.
 */
async function runAttached(
  api: EngineApi,
  container: string,
  stdio: Stdio,
  ctx: BackendContext,
  how: {
    /** How the container was created: whether it has a TTY and an open stdin. */
    config: Pick<Dockerode.ContainerCreateOptions, "Tty" | "OpenStdin" | "StdinOnce">;
    waitFor: WaitCondition;
    /** True for the launch that created the bottle: it starts it, and stops it on abort. */
    ownsBottle: boolean;
    title: string;
  },
): Promise<number> {
  const { config } = how;
  const tty = config.Tty === true;
  const { exited, stream, session } = await phase(ctx, "attach", how.title, async () => {
    const wait = await registerWait(api, container, how.waitFor);
    const exited = wait.exitCode;
    // The exit is awaited below only on some paths; an unobserved rejection must not crash the host.
    exited.catch(() => {});
    // A refused attach (a paused bottle) must not leave the wait holding the caller open.
    const stream = await attachContainer(api, container, config.OpenStdin === true).catch((error: unknown) => {
      wait.cancel();
      throw error;
    });
    const session = connectStdio(stream, stdio, {
      tty,
      stdin: config.OpenStdin === true,
      endInput: config.StdinOnce === true,
      resize: (size) => resizeContainer(api, container, size),
    });
    return { exited, stream, session };
  });
  const onAbort = how.ownsBottle
    ? () => void stopContainer(api, container, STOP_GRACE_SECONDS).catch(() => {})
    : () => (stream as unknown as { destroy: () => void }).destroy();
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  try {
    // The signal may have fired while attaching, before anyone listened.
    throwIfAborted(ctx.signal);
    if (how.ownsBottle) await phase(ctx, "start", "Starting the agent", () => startContainer(api, container));
    session.followTerminalSize();
    await session.ended;
    if (ctx.signal.aborted && !how.ownsBottle) throw abortedError(ctx.signal.reason);
    if (session.detached()) return 0;
    const exitCode = await exited;
    if (ctx.signal.aborted) throw abortedError(ctx.signal.reason);
    return exitCode;
  } finally {
    ctx.signal.removeEventListener("abort", onAbort);
    session.release();
    (stream as unknown as { destroy?: () => void }).destroy?.();
  }
}
