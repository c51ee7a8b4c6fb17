import { rm } from "node:fs/promises";
import { join } from "node:path";
import { BottleError, abortedError, phase, throwIfAborted, type BackendContext } from "@claude-bottle/core";
import type Dockerode from "dockerode";
import {
  TEMPORARY_REPOSITORY,
  pushToLocalRegistry,
  startLocalRegistry,
  type LocalRegistry,
  type LocalRegistryOptions,
} from "../registry/local-registry.js";
import type { Smolvm } from "../smolvm/locate.js";
import { runSmolvm } from "../smolvm/run.js";
import type { ArtifactCache, Artifact } from "./artifact-cache.js";

/** The repository the image is pushed under in the ephemeral registry. */
export const REGISTRY_REPOSITORY = TEMPORARY_REPOSITORY;

/**
 * The pipeline of a cache miss: registry up → tag + push → `smolvm pack
 * create` into a staging directory → atomic move into the cache → registry
 * down. The caller holds the key's lock.
 */
export async function packImage(
  docker: Dockerode,
  smolvm: Smolvm,
  imageId: string,
  key: string,
  cache: ArtifactCache,
  registryOptions: LocalRegistryOptions,
  ctx: BackendContext,
): Promise<Artifact> {
  const staging = await cache.staging(key);
  try {
    const registry = await phase(ctx, "registry-up", "Starting a local registry", () =>
      startLocalRegistry(docker, { env: ctx.env, ...registryOptions }, ctx),
    );
    try {
      await phase(ctx, "push", `Pushing the image to ${registry.daemonEndpoint}`, () =>
        pushToLocalRegistry(docker, registry, imageId, `${REGISTRY_REPOSITORY}:${key}`, ctx),
      );
      await phase(ctx, "pack", "Packing the machine with smolvm", () =>
        runSmolvm(smolvm, packArguments(registry, key, join(staging, key)), {
          signal: ctx.signal,
          onStdoutLine: (line) => ctx.emit({ type: "output", phase: "pack", line }),
        }),
      );
      throwIfAborted(ctx.signal);
      return await cache.commit(staging, key);
    } finally {
      await phase(ctx, "registry-down", "Removing the local registry", () => registry.close());
    }
  } catch (error) {
    // A request cut short by Ctrl-C surfaces as whatever the cut caused; report the interruption instead.
    if (ctx.signal.aborted && !BottleError.isInstance(error)) throw abortedError(ctx.signal.reason);
    throw error;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** `smolvm pack create`: the image by the host's name for the registry, the stub path without `.smolmachine`. */
export function packArguments(registry: Pick<LocalRegistry, "hostEndpoint">, key: string, output: string): string[] {
  return ["pack", "create", "--image", `${registry.hostEndpoint}/${REGISTRY_REPOSITORY}:${key}`, "-o", output];
}
