import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { demultiplexBuffer, isDockerDesktop, pullImage, inspectImage, pushImage, removeTag, tagImage } from "@claude-bottle/docker-engine";
import { BottleError, ErrorCodes, abortedError, isProcessAlive, throwIfAborted, toolLabels, type BackendContext } from "@claude-bottle/core";
import type Dockerode from "dockerode";
import { desktopInsecureRegistryError } from "./desktop-insecure-registry.js";

/** `registry:2.8.3`, pinned by digest so that what runs is what was reviewed. */
export const DEFAULT_REGISTRY_IMAGE =
  "registry:2.8.3@sha256:a3d8aaa63ed8681a604f1dea0aa03f100d5895b6a58ace528858a7b332415373";

/** Names another registry image (air-gapped machines, tests). */
export const REGISTRY_IMAGE_ENV = "CLAUDE_BOTTLE_REGISTRY_IMAGE";

/** Labels that mark a registry container as ours and name the run that owns it. */
export const RegistryLabels = {
  role: "dev.claude-bottle.role",
  ownerPid: "dev.claude-bottle.owner-pid",
  ownerHost: "dev.claude-bottle.owner-host",
} as const;
const REGISTRY_ROLE = "local-registry";
const REGISTRY_PORT = "5000/tcp";

export interface LocalRegistryOptions {
  /** The image to run; default `$CLAUDE_BOTTLE_REGISTRY_IMAGE`, else the pinned `registry:2.8.3`. */
  image?: string;
  /** Where `CLAUDE_BOTTLE_REGISTRY_IMAGE` is read from. Default: `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Whether the engine is Docker Desktop; default: asked from `docker info`. */
  dockerDesktop?: boolean;
  /** How long `/v2/` may take to answer once the container runs. Default 30 s. */
  readyTimeoutMs?: number;
  /**
   * A registry whose owner is still alive is left alone unless it is older
   * than this (the owner's pid may have been reused). Default 1 hour: a
   * pipeline never keeps its registry that long.
   */
  staleAfterMs?: number;
}

/** A running registry; dispose of it (`await using`, or `close()`) to remove it. */
export interface LocalRegistry extends AsyncDisposable {
  readonly containerId: string;
  readonly image: string;
  readonly port: number;
  /** For `docker tag`/`docker push`: how the engine reaches the registry. */
  readonly daemonEndpoint: string;
  /** For host processes such as `smolvm pack create`: always `localhost:PORT`. */
  readonly hostEndpoint: string;
  /** Removes the container; safe to call more than once. */
  close(): Promise<void>;
}

type RegistryContext = Pick<BackendContext, "emit" | "signal"> & Partial<Pick<BackendContext, "logger">>;

/** The registry image to run: the option, else the environment variable, else the pinned default. */
export function registryImage(options: Pick<LocalRegistryOptions, "image" | "env"> = {}): string {
  const fromEnv = (options.env ?? process.env)[REGISTRY_IMAGE_ENV]?.trim();
  return options.image ?? (fromEnv || DEFAULT_REGISTRY_IMAGE);
}

/**
 * The two names of a registry published on `port`. On Docker Desktop the
 * engine lives in its own VM, where `localhost` is the VM: it reaches the host
 * as `host.docker.internal`. A native engine shares the host's network.
 */
export function registryEndpoints(port: number, dockerDesktop: boolean): { daemonEndpoint: string; hostEndpoint: string } {
  return {
    daemonEndpoint: `${dockerDesktop ? "host.docker.internal" : "localhost"}:${port}`,
    hostEndpoint: `localhost:${port}`,
  };
}

/**
 * Starts an ephemeral registry and waits until it answers. On a native engine
 * it is published on 127.0.0.1 only; on Docker Desktop on every interface of
 * the host (the engine's VM reaches the host only through
 * `host.docker.internal`), for as long as the caller keeps it. Either way the
 * port is random. It is removed when disposed, when `ctx.signal` fires, on
 * SIGTERM, and, if this process is killed outright, by the next start.
 */
export async function startLocalRegistry(
  docker: Dockerode,
  options: LocalRegistryOptions = {},
  ctx: RegistryContext,
): Promise<LocalRegistry> {
  throwIfAborted(ctx.signal);
  const image = registryImage(options);
  const dockerDesktop = options.dockerDesktop ?? (await isDockerDesktop(docker));
  await reapStaleRegistries(docker, options, ctx);
  if (!(await inspectImage(docker, image))) {
    ctx.emit({ type: "progress", phase: "registry-up", message: `Pulling ${image}` });
    await pullImage(docker, image, ctx, "Or set CLAUDE_BOTTLE_REGISTRY_IMAGE to a registry:2 image this engine already has.");
  }
  throwIfAborted(ctx.signal);

  const container = await docker.createContainer({
    name: `claude-bottle-registry-${randomBytes(4).toString("hex")}`,
    Image: image,
    Labels: toolLabels({
      [RegistryLabels.role]: REGISTRY_ROLE,
      [RegistryLabels.ownerPid]: String(process.pid),
      [RegistryLabels.ownerHost]: hostname(),
    }),
    ExposedPorts: { [REGISTRY_PORT]: {} },
    HostConfig: {
      // An empty HostPort lets the engine pick a free port: no clash, nothing to guess.
      PortBindings: { [REGISTRY_PORT]: [{ HostIp: dockerDesktop ? "0.0.0.0" : "127.0.0.1", HostPort: "" }] },
    },
  });
  const registry = new RunningRegistry(docker, container, image, ctx);
  try {
    await container.start();
    registry.publishedOn(await publishedPort(container, image), dockerDesktop);
    await waitUntilServing(container, image, registry.port, options.readyTimeoutMs ?? 30_000, ctx.signal);
    return registry;
  } catch (error) {
    await registry.close();
    throw ctx.signal.aborted ? abortedError(ctx.signal.reason) : error;
  }
}

class RunningRegistry implements LocalRegistry {
  readonly containerId: string;
  port = 0;
  daemonEndpoint = "";
  hostEndpoint = "";
  #closing: Promise<void> | undefined;
  readonly #onAbort = () => void this.close();
  readonly #onSigterm = () => {
    // The process ends before the push's own clean-up runs: this registry's tags go with it.
    const port = this.port;
    const tags = port
      ? temporaryTags(this.docker)
          .then((all) => removeTemporaryTags(this.docker, all.filter((t) => t.port === port), this.ctx))
          .catch(() => {})
      : Promise.resolve();
    void tags.then(() => this.close()).finally(() => {
      // Alone on SIGTERM, this listener has suppressed Node's default exit: restore it.
      if (process.listenerCount("SIGTERM") === 0) process.kill(process.pid, "SIGTERM");
    });
  };

  constructor(
    private readonly docker: Dockerode,
    private readonly container: Dockerode.Container,
    readonly image: string,
    private readonly ctx: RegistryContext,
  ) {
    this.containerId = container.id;
    ctx.signal.addEventListener("abort", this.#onAbort, { once: true });
    process.once("SIGTERM", this.#onSigterm);
  }

  publishedOn(port: number, dockerDesktop: boolean): void {
    this.port = port;
    ({ daemonEndpoint: this.daemonEndpoint, hostEndpoint: this.hostEndpoint } = registryEndpoints(port, dockerDesktop));
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.ctx.signal.removeEventListener("abort", this.#onAbort);
      process.removeListener("SIGTERM", this.#onSigterm);
      await removeContainer(this.container);
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

async function removeContainer(container: Dockerode.Container): Promise<void> {
  try {
    await container.remove({ force: true, v: true });
  } catch (error) {
    // 404: already gone; 409: removal already in progress (a second close racing the first).
    const status = (error as { statusCode?: number }).statusCode;
    if (status !== 404 && status !== 409) throw error;
  }
}

async function publishedPort(container: Dockerode.Container, image: string): Promise<number> {
  const info = await container.inspect();
  if (!info.State.Running) throw await exitedError(container, info.State.ExitCode, image);
  const binding = info.NetworkSettings.Ports?.[REGISTRY_PORT]?.find((b) => b.HostPort);
  const port = Number(binding?.HostPort);
  if (!Number.isInteger(port) || port <= 0) {
    throw new BottleError(ErrorCodes.REGISTRY_UNREACHABLE, "The local registry started but the engine published no port for it.", {
      hint: "Check that the Docker engine can publish ports (docker run -p 127.0.0.1::80 works).",
    });
  }
  return port;
}

/** Polls `/v2/` from the host until the registry answers, the container dies or time runs out. */
async function waitUntilServing(
  container: Dockerode.Container,
  image: string,
  port: number,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<void> {
  // 127.0.0.1 rather than localhost: the port is published on IPv4 only.
  const url = `http://127.0.0.1:${port}/v2/`;
  const deadline = Date.now() + timeoutMs;
  let lastProblem = "no answer yet";
  while (Date.now() < deadline) {
    throwIfAborted(signal);
    try {
      // A timer of our own, not AbortSignal.timeout: that one is unref'd, and while docker-proxy holds a
      // connection the registry behind it has not answered yet, nothing else may keep the process alive
      // (Node then ends it with status 13, an await that never settled).
      const attempt = new AbortController();
      const timer = setTimeout(() => attempt.abort(new Error("no answer within 2 s")), 2_000);
      const response = await fetch(url, { signal: AbortSignal.any([signal, attempt.signal]) }).finally(() => clearTimeout(timer));
      // 401 is a registry that wants auth: it is serving all the same.
      if (response.ok || response.status === 401) return;
      lastProblem = `HTTP ${response.status}`;
    } catch (error) {
      throwIfAborted(signal);
      lastProblem = (error as Error & { cause?: Error }).cause?.message ?? (error as Error).message;
    }
    const state = (await container.inspect()).State;
    if (!state.Running) throw await exitedError(container, state.ExitCode, image);
    await sleep(100, undefined, { signal }).catch(() => throwIfAborted(signal));
  }
  throw new BottleError(
    ErrorCodes.REGISTRY_UNREACHABLE,
    `The local registry did not answer on ${url} within ${Math.round(timeoutMs / 1000)} s (${lastProblem}).`,
    { hint: "Check that nothing on this machine blocks connections to ports the Docker engine publishes on 127.0.0.1." },
  );
}

async function exitedError(container: Dockerode.Container, exitCode: number, image: string): Promise<BottleError> {
  return new BottleError(
    ErrorCodes.REGISTRY_UNREACHABLE,
    `The local registry (${image}) exited with status ${exitCode} before it answered: ${await logTail(container)}`,
    { hint: `Check the registry image (${REGISTRY_IMAGE_ENV} overrides it) with: docker run --rm -p 127.0.0.1::5000 ${image}` },
  );
}

async function logTail(container: Dockerode.Container): Promise<string> {
  const raw = (await container.logs({ stdout: true, stderr: true, tail: 5 }).catch(() => Buffer.alloc(0))) as Buffer;
  // The registry has no TTY: its log is the engine's multiplexed frames.
  const { stdout, stderr } = demultiplexBuffer(raw);
  return `${stderr.toString("utf8")}${stdout.toString("utf8")}`.trim() || "no output";
}

/**
 * Whether a registry container was left behind: its owner process on this
 * host is gone, it names no owner, or it is older than `staleAfterMs` (an
 * owner on another host sharing the engine, or a pid reused since).
 */
export function registryIsStale(
  container: { Labels: Readonly<Record<string, string>>; Created: number },
  staleAfterMs: number,
  now = Date.now(),
): boolean {
  const pid = Number(container.Labels[RegistryLabels.ownerPid] ?? NaN);
  const sameHost = container.Labels[RegistryLabels.ownerHost] === hostname();
  if (now - container.Created * 1000 >= staleAfterMs) return true;
  // A registry without an owner label was not started by a run that could still be using it.
  return !Number.isInteger(pid) || pid <= 0 || (sameHost && !isProcessAlive(pid));
}

/** The repository this package's own pipeline pushes under (`localhost:PORT/claude-bottle:KEY`). */
export const TEMPORARY_REPOSITORY = "claude-bottle";

/** The registry part of a temporary tag: how the engine reached one of these registries. */
const TEMPORARY_TAG_HOST = /^(?:localhost|host\.docker\.internal):(\d+)\/(.+):[^:/]+$/;

/** The host ports a registry container publishes its port 5000 on (none once it has stopped). */
function publishedPorts(summary: Dockerode.ContainerInfo): number[] {
  return (summary.Ports ?? []).filter((p) => p.PrivatePort === 5000 && p.PublicPort).map((p) => p.PublicPort);
}

/**
 * Removes registries left behind by runs that were killed before they could
 * clean up: those whose owner process on this host is gone, and any older
 * than `staleAfterMs` (an owner on another host sharing the engine, or a
 * reused pid). With them go the temporary tags such a run left in the engine
 * (a run killed in the middle of a push never removes its tag, and a tag pins
 * the whole image): every tag that names a removed registry's port, and every
 * `localhost:PORT/claude-bottle:…` or `host.docker.internal:PORT/claude-bottle:…`
 * whose port no live registry of ours publishes. Returns how many registries
 * it removed.
 */
export async function reapStaleRegistries(
  docker: Dockerode,
  options: Pick<LocalRegistryOptions, "staleAfterMs"> = {},
  ctx: Partial<Pick<BackendContext, "logger">> = {},
): Promise<number> {
  const staleAfterMs = options.staleAfterMs ?? 60 * 60 * 1000;
  // Tags first: a tag made after this listing belongs to a registry that the listing below finds alive.
  const tags = await temporaryTags(docker);
  const containers = await docker.listContainers({
    all: true,
    filters: { label: [`${RegistryLabels.role}=${REGISTRY_ROLE}`] },
  });
  let removed = 0;
  const livePorts = new Set<number>();
  const reapedPorts = new Set<number>();
  for (const summary of containers) {
    if (!registryIsStale(summary, staleAfterMs)) {
      for (const port of publishedPorts(summary)) livePorts.add(port);
      continue;
    }
    const pid = summary.Labels[RegistryLabels.ownerPid];
    ctx.logger?.debug(`Removing the stale local registry ${summary.Names[0] ?? summary.Id} (owner pid ${pid})`);
    for (const port of publishedPorts(summary)) reapedPorts.add(port);
    await removeContainer(docker.getContainer(summary.Id));
    removed++;
  }
  const condemned = tags.filter((t) => reapedPorts.has(t.port) || (!livePorts.has(t.port) && t.repository === TEMPORARY_REPOSITORY));
  await removeTemporaryTags(docker, condemned, ctx);
  return removed;
}

interface TemporaryTag {
  tag: string;
  port: number;
  repository: string;
}

/** The engine's tags that name a registry on the host's loopback or Docker Desktop's host: `localhost:PORT/…`, `host.docker.internal:PORT/…`. */
async function temporaryTags(docker: Dockerode): Promise<TemporaryTag[]> {
  const images = await docker.listImages();
  return images.flatMap((image) =>
    (image.RepoTags ?? []).flatMap((tag) => {
      const match = TEMPORARY_TAG_HOST.exec(tag);
      return match ? [{ tag, port: Number(match[1]), repository: match[2]! }] : [];
    }),
  );
}

async function removeTemporaryTags(docker: Dockerode, tags: readonly TemporaryTag[], ctx: Partial<Pick<BackendContext, "logger">>): Promise<void> {
  for (const { tag } of tags) {
    ctx.logger?.debug(`Removing the temporary tag ${tag}, left by a run that was killed`);
    await removeTag(docker, tag).catch((error: unknown) => ctx.logger?.warn(`Could not remove the temporary tag ${tag}: ${(error as Error).message}`));
  }
}

/**
 * Pushes a local image into the registry as `repositoryTag` (`name:tag`) and
 * returns the reference a host process pulls it by (`hostEndpoint/name:tag`).
 * The engine pushes through `daemonEndpoint`; the temporary tag it needs for
 * that is removed again whatever happens, since the registry keeps the image.
 */
export async function pushToLocalRegistry(
  docker: Dockerode,
  registry: Pick<LocalRegistry, "daemonEndpoint" | "hostEndpoint">,
  image: string,
  repositoryTag: string,
  ctx: RegistryContext,
): Promise<string> {
  const pushedRef = `${registry.daemonEndpoint}/${repositoryTag}`;
  await tagImage(docker, image, pushedRef);
  try {
    await pushImage(docker, pushedRef, ctx).catch((error: unknown) => {
      throw desktopInsecureRegistryError(error, registry);
    });
  } finally {
    await removeTag(docker, pushedRef).catch((error: unknown) =>
      ctx.logger?.warn(`Could not remove the temporary tag ${pushedRef}: ${(error as Error).message}`),
    );
  }
  return `${registry.hostEndpoint}/${repositoryTag}`;
}
