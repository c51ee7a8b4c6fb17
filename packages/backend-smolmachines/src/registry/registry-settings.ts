import { Labels } from "@claude-bottle/core";
import type { BackendContext } from "@claude-bottle/core";
import type Dockerode from "dockerode";

/** `registry:2.8.3`, pinned by digest so that what runs is what was reviewed. */
export const DEFAULT_REGISTRY_IMAGE =
  "registry:2.8.3@sha256:a3d8aaa63ed8681a604f1dea0aa03f100d5895b6a58ace528858a7b332415373";

/** Names another registry image (air-gapped machines, tests). */
export const REGISTRY_IMAGE_ENV = "CLAUDE_BOTTLE_REGISTRY_IMAGE";

/** Labels that mark a registry container as ours and name the run that owns it. */
export const RegistryLabels = {
  role: Labels.role,
  ownerPid: Labels.ownerPid,
  ownerHost: Labels.ownerHost,
} as const;
export const REGISTRY_ROLE = "local-registry";
export const REGISTRY_PORT = "5000/tcp";

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

export type RegistryContext = Pick<BackendContext, "emit" | "signal"> & Partial<Pick<BackendContext, "logger">>;

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

/** Removes a registry container; one already gone (or going) is fine. */
export async function removeContainer(container: Dockerode.Container): Promise<void> {
  try {
    await container.remove({ force: true, v: true });
  } catch (error) {
    // 404: already gone; 409: removal already in progress (a second close racing the first).
    const status = (error as { statusCode?: number }).statusCode;
    if (status !== 404 && status !== 409) throw error;
  }
}
