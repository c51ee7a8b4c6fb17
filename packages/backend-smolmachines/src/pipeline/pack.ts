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
import { probeSmolvmFeatures, type SmolvmFeatures } from "../smolvm/features.js";
import { runSmolvm } from "../smolvm/run.js";
import { SmolmachinesErrorCodes } from "../errors.js";
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
      const features = await probeSmolvmFeatures(smolvm);
      await phase(ctx, "pack", "Packing the machine with smolvm", () =>
        runSmolvm(smolvm, packArguments(registry, key, join(staging, key)), {
          env: packEnvironment(features),
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
    if (isDiskFull(error)) throw diskFullError(cache.dir, error);
    throw error;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** ENOSPC from our own writes, or smolvm's report of it while it wrote the machine into the staging directory. */
function isDiskFull(error: unknown): boolean {
  if ((error as NodeJS.ErrnoException | undefined)?.code === "ENOSPC") return true;
  return error instanceof Error && /no space left on device/i.test(error.message);
}

function diskFullError(dir: string, cause: unknown): BottleError {
  return new BottleError(SmolmachinesErrorCodes.SMOLMACHINES_DISK_FULL, `The disk of ${dir} is full: the packed machine does not fit there. Nothing of it was kept.`, {
    hint: `Free some space on that disk (df -h ${dir}), or set XDG_CACHE_HOME to a directory on a disk with room, then start again.`,
    cause,
  });
}

/** `smolvm pack create`: the image by the host's name for the registry, the stub path without `.smolmachine`. */
export function packArguments(registry: Pick<LocalRegistry, "hostEndpoint">, key: string, output: string): string[] {
  return ["pack", "create", "--image", `${registry.hostEndpoint}/${REGISTRY_REPOSITORY}:${key}`, "-o", output];
}

/**
 * The environment of `smolvm pack create`, and of nothing else. The pack
 * pulls the image from inside a helper VM; where smolvm's egress floor denies
 * guests the host's loopback (SMOLVM.md, "The loopback floor"), that VM
 * cannot reach the registry on `localhost:PORT`. pack create has no flag to
 * lift it, so the two variables smolvm reads for it are set for this one
 * process: loopback opens, cloud metadata stays closed. A bottle's smolvm
 * never gets them.
 */
export function packEnvironment(features: Pick<SmolvmFeatures, "has">): Record<string, string> {
  if (!features.has.hostLoopbackFloor) return {};
  return { SMOLVM_EGRESS_FLOOR: "metadata", SMOLVM_ALLOW_HOST_LOOPBACK: "1" };
}
