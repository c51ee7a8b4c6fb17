import { existsSync } from "node:fs";
import { BottleError, ErrorCodes, Labels, buildNetworkOf, phase, toolLabels, type BackendContext, type ResolvedAgent } from "@claude-bottle/core";
import type Dockerode from "dockerode";
import { engineOf, type DockerEngine } from "../connect/connect.js";
import type { EngineApi } from "../engine/api.js";
import { buildImage, type BuildNetworkMode } from "./build.js";
import { hashBuildContext, readBuildContext } from "./context.js";
import { pullImage } from "./pull.js";
import { remoteAddSources } from "./remote-sources.js";
import { inspectImage, removeTag, splitRepoTag } from "./refs.js";

/** The label that records which build inputs an image was built from. */
export const CONTEXT_HASH_LABEL = Labels.contextHash;

/**
 * Where an agent's image comes from, settled at prepare: a build is keyed on
 * the content of its inputs, so an unchanged agent finds its image by tag.
 */
export type ImagePlan =
  | {
      kind: "build";
      /** `claude-bottle/<slug>:<first 16 hex of the content hash>`. */
      tag: string;
      contextHash: string;
      dockerfile: string;
      context: string;
      args: Readonly<Record<string, string>>;
    }
  | { kind: "ref"; ref: string };

/** The image a bottle runs: its ID, and the entrypoint and command it would run by itself. */
export interface AgentImage {
  id: string;
  config: { Entrypoint?: string[] | null; Cmd?: string[] | null };
}

/** The repository an agent's built images are tagged in. */
export function agentRepository(slug: string): string {
  return `claude-bottle/${slug}`;
}

export async function planAgentImage(agent: ResolvedAgent): Promise<ImagePlan> {
  const source = agent.image;
  if (source.kind === "ref") return { kind: "ref", ref: source.ref };
  for (const [what, path] of [
    ["Dockerfile", source.dockerfile],
    ["build context", source.context],
  ] as const) {
    if (!existsSync(path)) {
      throw new BottleError(ErrorCodes.AGENT_INVALID, `The ${what} of agent "${agent.slug}" does not exist: ${path}`, {
        hint: `Fix build.${what === "Dockerfile" ? "dockerfile" : "context"} in ${agent.file ?? "the agent's recipe"}.`,
      });
    }
  }
  const context = await readBuildContext(source.context, source.dockerfile);
  const remote = buildNetworkOf(agent) === "engine" ? [] : remoteAddSources(context.dockerfileText);
  if (remote.length > 0) {
    throw new BottleError(ErrorCodes.AGENT_INVALID, `The Dockerfile of agent "${agent.slug}" ADDs a URL (${remote.join(", ")}): the engine fetches that itself, from your machine's network, outside the agent's network rules.`, {
      hint: `Fetch it in a RUN step instead (RUN curl -fsSLo <file> <url>): RUN steps go through the bottle's proxy, under its rules. Dockerfile: ${source.dockerfile}`,
    });
  }
  const contextHash = await hashBuildContext(context, source.args);
  return {
    kind: "build",
    tag: `${agentRepository(agent.slug)}:${contextHash.slice(0, 16)}`,
    contextHash,
    dockerfile: source.dockerfile,
    context: source.context,
    args: source.args,
  };
}

/**
 * Makes the planned image present on the engine: a built image is looked up
 * by its content tag and built only when missing; a reference is pulled only
 * when the engine does not have it.
 */
export async function ensureAgentImage(
  engine: DockerEngine | Dockerode,
  plan: ImagePlan,
  slug: string,
  ctx: Pick<BackendContext, "emit" | "signal">,
  /** Where a build's steps may connect, asked only when there is a build (the warm path never waits on it); default the engine's network. */
  buildNetwork?: () => Promise<BuildNetworkMode | undefined>,
): Promise<AgentImage> {
  // The warm path is one inspect through the small client; dockerode is loaded only to build or pull.
  const target = engineOf(engine);
  const { api } = target;
  const docker = () => target.docker;
  if (plan.kind === "ref") {
    const present = await phase(ctx, "cache-check", `Looking for ${plan.ref}`, () => inspectImage(api, plan.ref));
    if (present) return described(present);
    await phase(ctx, "pull", `Pulling ${plan.ref}`, () => pullOrExplain(docker(), plan.ref, ctx));
    return describe(api, plan.ref);
  }

  const cached = await phase(ctx, "cache-check", `Looking for ${plan.tag}`, () => inspectImage(api, plan.tag));
  if (cached) return described(cached);
  const network = await buildNetwork?.();
  await phase(ctx, "build", `Building the image of ${slug}`, () =>
    buildImage(
      docker(),
      {
        ...(network && { network }),
        dockerfile: plan.dockerfile,
        context: plan.context,
        args: plan.args,
        tags: [plan.tag],
        labels: toolLabels({ [Labels.agent]: slug, [CONTEXT_HASH_LABEL]: plan.contextHash }),
      },
      ctx,
    ),
  );
  await untagOlderBuilds(docker(), slug, plan.tag);
  return describe(api, plan.tag);
}

async function describe(api: EngineApi, ref: string): Promise<AgentImage> {
  const image = await inspectImage(api, ref);
  if (!image) throw new BottleError(ErrorCodes.IMAGE_NOT_FOUND, `The image ${ref} disappeared from the engine.`);
  return described(image);
}

function described(image: Dockerode.ImageInspectInfo): AgentImage {
  const list = (value: string | string[] | null | undefined) =>
    value === null || value === undefined ? null : Array.isArray(value) ? value : [value];
  return { id: image.Id, config: { Entrypoint: list(image.Config.Entrypoint), Cmd: list(image.Config.Cmd) } };
}

/** A missing reference is IMAGE_NOT_FOUND whatever stopped the pull; the reason is in the message. */
async function pullOrExplain(docker: Dockerode, ref: string, ctx: Pick<BackendContext, "emit" | "signal">): Promise<void> {
  try {
    await pullImage(docker, ref, ctx, "Or change the agent's image: to one this engine already has, or give it a build: instead.");
  } catch (error) {
    if (!BottleError.isInstance(error) || error.code === ErrorCodes.ABORTED || error.code === ErrorCodes.IMAGE_NOT_FOUND) throw error;
    throw new BottleError(ErrorCodes.IMAGE_NOT_FOUND, `The image ${ref} is not on this engine and could not be pulled: ${error.message}`, {
      hint: error.hint ?? "Check the image reference, or build the image locally.",
      cause: error,
    });
  }
}

/**
 * Earlier builds of the same agent keep their tags until removed here, so a
 * changed Dockerfile does not leave one tagged image per edit. An earlier
 * build goes with the steps of its own (the steps the new build shares with it
 * stay, under the new one); an image a bottle still runs only loses its tag.
 */
async function untagOlderBuilds(docker: Dockerode, slug: string, current: string): Promise<void> {
  const repository = agentRepository(slug);
  const images = await docker.listImages({ filters: { reference: [repository] } });
  for (const image of images) {
    for (const tag of image.RepoTags ?? []) {
      if (tag !== current && splitRepoTag(tag).repo === repository) await removeTag(docker, tag, { pruneParents: true }).catch(() => {});
    }
  }
}
