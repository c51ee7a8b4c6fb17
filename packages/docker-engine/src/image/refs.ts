import { BottleError, ErrorCodes } from "@claude-bottle/core";
import type Dockerode from "dockerode";
import { EngineApi } from "../engine/api.js";
import { engineMessage, statusCodeOf } from "../errors.js";

/** The image ID (`sha256:…`) a reference or ID points at, or undefined when the engine has no such image. */
export async function imageId(engine: EngineApi | Dockerode, ref: string): Promise<string | undefined> {
  return (await inspectImage(engine, ref))?.Id;
}

/** The engine's full description of an image, or undefined when it has no such image. */
export async function inspectImage(engine: EngineApi | Dockerode, ref: string): Promise<Dockerode.ImageInspectInfo | undefined> {
  const api = engine instanceof EngineApi ? engine : EngineApi.for(engine);
  try {
    // Slashes stay: they are part of a repository's name in the path, as the engine routes it.
    return await api.json("GET", `/images/${encodeURIComponent(ref).replace(/%2F/g, "/")}/json`);
  } catch (error) {
    if (statusCodeOf(error) === 404) return undefined;
    throw error;
  }
}

/**
 * Splits `registry:5000/repo:tag` into repo and tag (a registry port is not a
 * tag; no tag means `latest`, as Docker reads it; a `@digest` is dropped).
 */
export function splitRepoTag(ref: string): { repo: string; tag: string } {
  const name = ref.split("@")[0]!;
  const slash = name.lastIndexOf("/");
  const colon = name.lastIndexOf(":");
  if (colon > slash) return { repo: name.slice(0, colon), tag: name.slice(colon + 1) };
  return { repo: name, tag: "latest" };
}

/** Gives the image `source` (an ID or reference) the name `target` (`repo:tag`). */
export async function tagImage(docker: Dockerode, source: string, target: string): Promise<void> {
  try {
    await docker.getImage(source).tag(splitRepoTag(target));
  } catch (error) {
    if (statusCodeOf(error) === 404) {
      throw new BottleError(ErrorCodes.IMAGE_NOT_FOUND, `Cannot tag ${source} as ${target}: no such image.`, {
        hint: "Build or pull the image first.",
        cause: error,
      });
    }
    throw error;
  }
}

/**
 * Removes the name `ref`. The image stays while it has another name or a
 * container uses it; when `ref` was its last name the engine deletes it, as
 * `docker rmi` does. With `pruneParents` its untagged parent layers that no
 * other image is built on go too (a superseded build's own steps: what a
 * newer build shares with it stays, as that build's parents); without, they
 * stay as build cache. A name that does not exist is fine.
 */
export async function removeTag(docker: Dockerode, ref: string, options: { pruneParents?: boolean } = {}): Promise<void> {
  const noprune = options.pruneParents !== true;
  try {
    await docker.getImage(ref).remove({ noprune });
  } catch (error) {
    if (statusCodeOf(error) === 404) return;
    // 409: the image is in use under this one name; untagging would need force, which prunes nothing either.
    if (statusCodeOf(error) === 409) {
      await docker.getImage(ref).remove({ noprune, force: true });
      return;
    }
    throw new Error(`Cannot remove the tag ${ref}: ${engineMessage(error)}`, { cause: error });
  }
}
