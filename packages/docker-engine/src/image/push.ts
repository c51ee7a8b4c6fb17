import { BottleError, ErrorCodes, abortedError, throwIfAborted, type BackendContext } from "@claude-bottle/core";
import type Dockerode from "dockerode";
import { engineMessage, statusCodeOf } from "../errors.js";
import { readTransfer } from "./json-stream.js";
import { layerProgress } from "./layer-progress.js";
import { splitRepoTag } from "./refs.js";
import { classifyRegistryFailure, registryRefused } from "./registry-errors.js";

/**
 * Pushes `ref` (`registry/repo:tag`), reporting bytes pushed of the total as
 * `progress` events of phase "push". A registry that speaks only HTTP to an
 * engine that insists on HTTPS throws REGISTRY_INSECURE; one the engine cannot
 * reach, REGISTRY_UNREACHABLE; both with a hint. `auth` is for registries
 * that need a login; anonymous by default.
 */
export async function pushImage(
  docker: Dockerode,
  ref: string,
  ctx: Pick<BackendContext, "emit" | "signal">,
  options: { auth?: Dockerode.AuthConfig } = {},
): Promise<void> {
  throwIfAborted(ctx.signal);
  const onMessage = layerProgress(ctx, "push", "Pushing");
  let failure: string | undefined;
  try {
    const { repo, tag } = splitRepoTag(ref);
    // The engine insists on an auth header even for a registry without auth: `{}` is the anonymous one.
    const stream = await docker.getImage(repo).push({ tag, authconfig: options.auth ?? {}, abortSignal: ctx.signal } as object);
    failure = await readTransfer(stream, onMessage);
  } catch (error) {
    if (ctx.signal.aborted) throw abortedError(ctx.signal.reason);
    failure = engineMessage(error);
    if (statusCodeOf(error) === 404) throw notFound(ref, error);
  }
  if (failure === undefined) return;
  if (/does not exist locally|no such image/i.test(failure)) throw notFound(ref);
  throw classifyRegistryFailure(ref, failure, "push") ?? registryRefused(ref, failure, "push");
}

function notFound(ref: string, cause?: unknown): BottleError {
  return new BottleError(ErrorCodes.IMAGE_NOT_FOUND, `Cannot push ${ref}: the engine has no image by that name.`, {
    hint: "Tag the image with tagImage() before pushing it.",
    cause,
  });
}
