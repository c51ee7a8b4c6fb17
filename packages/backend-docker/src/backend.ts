import {
  BottleError,
  ErrorCodes,
  assertAgentPaths,
  cachedUntilFailure,
  bottleNotRunningError,
  bottleRunningError,
  ENFORCEMENTS,
  throwIfAborted,
  type Backend,
  type BackendContext,
  type BackendFactory,
  type BottleSpec,
  type Capability,
  type Enforcement,
} from "@claude-bottle/core";
import type Dockerode from "dockerode";
import { connectDocker, engineOf, planAgentImage, statusCodeOf, type ConnectOptions, type DockerConnection, type EngineApi } from "@claude-bottle/docker-engine";
import { runAttached, STOP_GRACE_SECONDS } from "./container/attached-session.js";
import { findBottle } from "./container/bottles.js";
import { listAndReap } from "./container/list.js";
import type { HostUser } from "./container/create-options.js";
import { diagnose } from "./container/doctor.js";
import { bottleRuntime, type BottleRuntime } from "./container/isolation.js";
import { execInBottle } from "./container/exec.js";
import { listHomeVolumes } from "./container/home-volume.js";
import { BACKEND_NAME } from "./container/labels.js";
import { inspectContainer, removeContainer, stopContainer } from "./container/lifecycle.js";
import { copyLogs } from "./container/logs.js";
import { copyDenials } from "./egress/denials.js";
import { proxyImageRef } from "./egress/proxy-image.js";
import { restartEgress } from "./egress/restart.js";
import { egressNames, removeEgress, stopEgress, type EgressSettings } from "./egress/sidecar.js";
import { launchBottle, type DockerPrepared } from "./launch.js";
import { assertHostServicePorts, assertNetworkForPorts } from "./ports/needs-network.js";
import { publishPort } from "./ports/publish.js";

export type { DockerPrepared } from "./launch.js";

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
  /**
   * The egress proxy's settings beyond the policy: its image (default
   * CLAUDE_BOTTLE_PROXY_IMAGE, else the pinned official Node image), names it
   * resolves from a hosts list, its DNS servers, networks it joins.
   */
  egress?: Partial<EgressSettings>;
}

const CAPABILITIES: readonly Capability[] = ["detach", "list", "stop", "remove", "logs", "attach", "exec", "doctor", "homes", "restartProxy", "publish"];

/** All of a bottle's spec: the egress proxy keeps the network policy and credentials, the engine the limits and mounts. */
const ENFORCED: readonly Enforcement[] = ENFORCEMENTS;

/** Runs agents in containers on a Docker engine. */
export const createDockerBackend: BackendFactory<DockerBackendOptions, DockerPrepared> = (options = {}) => {
  const user = options.user === undefined ? hostUser() : (options.user ?? undefined);
  const given: DockerConnection | undefined = options.docker && { ...engineOf(options.docker), source: "the engine passed in the options", remote: false };
  let connection: (() => Promise<DockerConnection>) | undefined;

  /** One connection per backend, found on first use (with the first caller's environment); a failed attempt is retried next time. */
  const engine = (ctx: BackendContext): Promise<DockerConnection> => {
    if (given) return Promise.resolve(given);
    connection ??= cachedUntilFailure(async () => {
      const found = await connectDocker({ env: ctx.env, ...options.connect });
      ctx.logger.debug(`docker: using the engine at ${found.source}`);
      return found;
    });
    return connection();
  };

  const backend: Backend<DockerPrepared> = {
    // The contract version this code implements, written out as core's README asks of every backend.
    apiVersion: 1,
    name: BACKEND_NAME,
    capabilities: CAPABILITIES,
    enforces: ENFORCED,

    async prepare(spec: BottleSpec, ctx: BackendContext): Promise<DockerPrepared> {
      throwIfAborted(ctx.signal);
      assertAgentPaths(spec);
      assertNetworkForPorts(spec);
      assertHostServicePorts(spec);
      // Finding the engine waits on a round trip, hashing the build inputs on the disk: overlap them.
      const [docker, image] = await Promise.all([engine(ctx), planAgentImage(spec)]);
      // Found now, so a missing runsc stops before any build.
      const runtime = await bottleRuntime(docker.api, spec.isolation);
      throwIfAborted(ctx.signal);
      return { backend: BACKEND_NAME, spec, image, runtime };
    },

    launch: (prepared, opts, ctx) => launchBottle({ engine, user, egress: options.egress }, prepared, opts, ctx),

    async list(ctx) {
      const { api } = await engine(ctx);
      // What a killed CLI left (a bottle it never started, a proxy, a network, their files) goes with the next look.
      return listAndReap(api, ctx);
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
      await removeEgress(api, name, ctx.cacheDir, ctx.env);
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

    async restartProxy(name, opts, ctx) {
      const { api } = await engine(ctx);
      const info = await requireRunning(api, await findBottle(api, name), name);
      await restartEgress(api, name, info, { image: proxyImageRef(ctx.env), ...options.egress }, ctx, opts);
    },

    async publish(name, { port }, ctx) {
      const { api } = await engine(ctx);
      const info = await requireRunning(api, await findBottle(api, name), name);
      if (info.HostConfig.NetworkMode !== egressNames(name).network) {
        throw new BottleError(ErrorCodes.UNSUPPORTED, `The bottle ${name} has no network of its own (it runs with network: false), so no port of it can be published.`, {
          hint: "Start it with a network that reaches nothing else (network: { allow: [] }) and --publish.",
        });
      }
      await publishPort(api, name, port, proxyImage(ctx));
    },

    async homes(ctx) {
      return listHomeVolumes((await engine(ctx)).api);
    },

    async removeHome(name, ctx) {
      const { api } = await engine(ctx);
      if (!(await listHomeVolumes(api)).some((home) => home.name === name)) {
        throw new BottleError(ErrorCodes.HOME_NOT_FOUND, `There is no home called ${name} on the docker backend.`, {
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

  /** The image the egress proxy and its helpers (forwarders, host services) run from. */
  function proxyImage(ctx: BackendContext): string {
    return options.egress?.image ?? proxyImageRef(ctx.env);
  }

  return backend;
};

function hostUser(): HostUser | undefined {
  if (typeof process.getuid !== "function" || typeof process.getgid !== "function") return undefined;
  return { uid: process.getuid(), gid: process.getgid() };
}

async function requireRunning(api: EngineApi, container: string, name: string): Promise<Dockerode.ContainerInspectInfo> {
  const info = await inspectContainer(api, container);
  // A paused bottle says Running too, but the engine refuses to attach or exec in it.
  if (!info.State.Running || info.State.Paused) {
    throw bottleNotRunningError(name, info.State.Status, info.State.Paused ? { hint: `Unpause it first: docker unpause ${name}` } : {});
  }
  return info;
}
