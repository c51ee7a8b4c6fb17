import { BottleError, ErrorCodes, abortedError, throwIfAborted, type BackendContext } from "@claude-bottle/core";
import type Dockerode from "dockerode";
import { engineMessage, statusCodeOf } from "../errors.js";
import { readTransfer } from "./json-stream.js";
import { layerProgress } from "./layer-progress.js";
import { classifyRegistryFailure } from "./registry-errors.js";

/**
 * Pulls `ref`, reporting bytes downloaded as `progress` events of phase
 * "pull". A reference the registry does not have throws IMAGE_NOT_FOUND; an
 * unreachable registry REGISTRY_UNREACHABLE.
 */
export async function pullImage(
  docker: Dockerode,
  ref: string,
  ctx: Pick<BackendContext, "emit" | "signal">,
  /** What the user can do without this pull (the override that names another image), for a registry out of reach. */
  instead?: string,
): Promise<void> {
  throwIfAborted(ctx.signal);
  const onMessage = layerProgress(ctx, "pull", "Downloading");
  let failure: string | undefined;
  try {
    failure = await readTransfer(await docker.pull(ref, { abortSignal: ctx.signal }), onMessage);
  } catch (error) {
    if (ctx.signal.aborted) throw abortedError(ctx.signal.reason);
    failure = engineMessage(error);
    if (statusCodeOf(error) === 404) throw notFound(ref, failure, error);
  }
  if (failure === undefined) return;
  throw classifyRegistryFailure(ref, failure, "pull", instead) ?? notFound(ref, failure);
}

function notFound(ref: string, detail: string, cause?: unknown): BottleError {
  return new BottleError(ErrorCodes.IMAGE_NOT_FOUND, `The image ${ref} is not on this engine and could not be pulled: ${detail}`, {
    hint: "Check the image name and tag, run `docker login` for a private registry, or build the image locally.",
    cause,
  });
}
