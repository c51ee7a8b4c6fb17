import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { demultiplexBuffer, isDockerDesktop, pullImage, inspectImage } from "@claude-bottle/docker-engine";
import { BottleError, ErrorCodes, abortedError, throwIfAborted, toolLabels } from "@claude-bottle/core";
import type Dockerode from "dockerode";
import { reapStaleRegistries } from "./reap-registries.js";
import {
  REGISTRY_IMAGE_ENV,
  REGISTRY_PORT,
  REGISTRY_ROLE,
  RegistryLabels,
  registryEndpoints,
  registryImage,
  removeContainer,
  type LocalRegistry,
  type LocalRegistryOptions,
  type RegistryContext,
} from "./registry-settings.js";

/**
 * Starts an ephemeral registry and waits until it answers. On a native engine
 * it is published on 127.0.0.1 only; on Docker Desktop on every interface of
 * the host (the engine's VM reaches the host only through
 * `host.docker.internal`), for as long as the caller keeps it. Either way the
 * port is random. It is removed when disposed, when `ctx.signal` fires (the
 * host aborts it on SIGINT, SIGTERM and a hang-up), and, if this process is
 * killed outright, by the next start.
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
  const registry = new RunningRegistry(container, image, ctx);
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

  constructor(
    private readonly container: Dockerode.Container,
    readonly image: string,
    private readonly ctx: RegistryContext,
  ) {
    this.containerId = container.id;
    ctx.signal.addEventListener("abort", this.#onAbort, { once: true });
  }

  publishedOn(port: number, dockerDesktop: boolean): void {
    this.port = port;
    ({ daemonEndpoint: this.daemonEndpoint, hostEndpoint: this.hostEndpoint } = registryEndpoints(port, dockerDesktop));
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.ctx.signal.removeEventListener("abort", this.#onAbort);
      await removeContainer(this.container);
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
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
