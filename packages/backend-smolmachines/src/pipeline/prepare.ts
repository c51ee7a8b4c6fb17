import { ensureAgentImage, planAgentImage, type AgentImage, type ImagePlan } from "@claude-bottle/docker-engine";
import {
  BottleError,
  buildNetworkOf,
  ErrorCodes,
  phase,
  throwIfAborted,
  type BackendContext,
  type Prepared,
  type BottleSpec,
} from "@claude-bottle/core";
import type Dockerode from "dockerode";
import { ArtifactCache, artifactCacheDir, cacheKeyOf, type Artifact, type BuiltImage } from "./artifact-cache.js";
import type { LocalRegistryOptions } from "../registry/local-registry.js";
import { assertMountSources } from "../mounts.js";
import { machineNetworkOf } from "../egress/machine-network.js";
import type { Smolvm } from "../smolvm/locate.js";
import { packImage } from "./pack.js";

export interface SmolmachinesPrepared extends Prepared<"smolmachines"> {
  readonly imageId: string;
  readonly artifact: Artifact;
  /** What the image runs by itself, for an agent that names no command. */
  readonly imageEntrypoint: readonly string[];
  readonly imageCmd: readonly string[];
}

/** What prepare needs from the backend: its engine, its smolvm and its registry settings. */
export interface PrepareDependencies {
  docker(ctx: BackendContext): Promise<Dockerode>;
  smolvm(ctx: BackendContext): Promise<Smolvm>;
  registry: LocalRegistryOptions;
}

/**
 * Docker image → `.smolmachine`. The image is built (or found by the content
 * of its inputs) with the Docker helpers and keyed by its ID; a packed machine
 * already in the cache for that key ends the work there. Otherwise one
 * prepare per key (the others wait on a lock, then find its result) runs the
 * pipeline: registry up → tag + push → `smolvm pack create` → atomic move
 * into the cache → tag removed → registry down.
 */
export async function prepareSmolmachine(
  spec: BottleSpec,
  ctx: BackendContext,
  deps: PrepareDependencies,
): Promise<SmolmachinesPrepared> {
  throwIfAborted(ctx.signal);
  assertMountSources(spec);
  // smolvm is checked before the build so that a missing one costs no build time.
  const smolvm = await deps.smolvm(ctx);
  // So is the network policy: one smolvm cannot enforce, or enforces only from a newer release, is refused now.
  await machineNetworkOf(smolvm, spec, ctx.env);
  const cache = new ArtifactCache(artifactCacheDir(ctx.cacheDir));
  // What a killed prepare left (a lock, a staging directory) goes first: a fast path below never meets it again.
  await cache.sweep();
  const plan = await planAgentImage(spec);
  const prepared = (image: BuiltImage, artifact: Artifact): SmolmachinesPrepared => ({
    spec,
    backend: "smolmachines",
    imageId: image.id,
    artifact,
    imageEntrypoint: image.config.Entrypoint ?? [],
    imageCmd: image.config.Cmd ?? [],
  });

  // Unchanged build inputs whose machine is packed need nothing from the engine: the artifact is self-contained.
  if (plan.kind === "build") {
    const known = await cache.imageForInputs(plan.contextHash);
    const hit =
      known &&
      (await phase(ctx, "cache-check", `Looking for the packed machine ${cacheKeyOf(known.id)}`, () => cache.lookup(cacheKeyOf(known.id))));
    if (known && hit) return prepared(known, hit);
  }

  const docker = await deps.docker(ctx);
  const image = await buildOnce(docker, spec, plan, cache, ctx);
  throwIfAborted(ctx.signal);
  const key = cacheKeyOf(image.id);
  const remember = async (artifact: Artifact) => {
    if (plan.kind === "build") await cache.recordInputs(plan.contextHash, image);
    return prepared(image, artifact);
  };

  // A miss leaves this phase holding the key's lock: whoever held it before may have packed the key meanwhile.
  const found = await phase(ctx, "cache-check", `Looking for the packed machine ${key}`, async () => {
    const hit = await cache.lookup(key);
    if (hit) return { hit };
    const lock = await cache.lock(key, ctx.signal, () =>
      ctx.emit({ type: "progress", phase: "cache-check", message: `Waiting for another prepare that is packing ${key}` }),
    );
    const packedMeanwhile = await cache.lookup(key);
    if (!packedMeanwhile) return { lock };
    await lock.release();
    return { hit: packedMeanwhile };
  });
  if (found.hit) return remember(found.hit);
  try {
    return await remember(await packImage(docker, smolvm, image.id, key, cache, deps.registry, ctx));
  } finally {
    await found.lock!.release();
  }
}

/**
 * Builds (or finds) the agent's image. Two builds of the same inputs at once
 * would each make an image of their own, with different IDs and so different
 * cache keys; a lock per build input hash makes the second find the first's.
 */
async function buildOnce(docker: Dockerode, agent: BottleSpec, plan: ImagePlan, cache: ArtifactCache, ctx: BackendContext): Promise<AgentImage> {
  if (plan.kind === "ref") return ensureAgentImage(docker, plan, agent.slug, ctx);
  const lock = await cache.lock(`image-${plan.contextHash.slice(0, 16)}`, ctx.signal, () =>
    ctx.emit({ type: "progress", phase: "build", message: "Waiting for another build of the same image" }),
  );
  try {
    // A project or user agent's build gets no network: its policy is kept by the machine's smolvm, which exists only
    // from launch, so nothing could keep it while the build runs, and the engine's own network would be wider.
    const network = buildNetworkOf(agent) === "engine" ? undefined : ({ mode: "none" } as const);
    return await ensureAgentImage(docker, plan, agent.slug, ctx, async () => network).catch((error: unknown) => {
      if (!network || !BottleError.isInstance(error) || error.code !== ErrorCodes.IMAGE_BUILD_FAILED) throw error;
      throw new BottleError(error.code, error.message, {
        hint: "The smolmachines backend builds an agent's image with no network (its network rules are kept only once the machine runs): copy what the build needs into its context, use a ready image (image:), or build it with the docker backend, which builds through the agent's egress proxy.",
        cause: error,
      });
    });
  } finally {
    await lock.release();
  }
}
