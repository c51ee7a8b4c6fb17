import { BottleError, ErrorCodes, abortedError, throwIfAborted, type BackendContext } from "@claude-bottle/core";
import type Dockerode from "dockerode";
import { engineMessage, statusCodeOf } from "../errors.js";
import { readEngineMessages } from "./json-stream.js";
import { layerProgress } from "./layer-progress.js";
import { classifyRegistryFailure } from "./registry-errors.js";

/**
 * Pushes `ref` (`registry/repo:tag`), reporting bytes pushed of the total as
 * `progress` events of phase "push". A registry that speaks only HTTP to an
 * engine that insists on HTTPS throws REGISTRY_INSECURE; one the engine cannot
 * reach, REGISTRY_UNREACHABLE; both with a hint.
 */
export async function pushImage(docker: Dockerode, ref: string, ctx: Pick<BackendContext, "emit" | "signal">): Promise<void> {
  throwIfAborted(ctx.signal);
  const onMessage = layerProgress(ctx, "push", "Pushing");
  let failure: string | undefined;
  try {
    const stream = await docker.getImage(ref).push({ abortSignal: ctx.signal } as object);
    await readEngineMessages(stream, (message) => {
      if (message.error || message.errorDetail) failure = message.errorDetail?.message ?? message.error;
      else onMessage(message);
    });
  } catch (error) {
    if (ctx.signal.aborted) throw abortedError(ctx.signal.reason);
    failure = engineMessage(error);
    if (statusCodeOf(error) === 404) {
      throw new BottleError(ErrorCodes.IMAGE_NOT_FOUND, `Cannot push ${ref}: the engine has no image by that name.`, {
        hint: "Tag the image with tagImage() before pushing it.",
        cause: error,
      });
    }
  }
  if (failure === undefined) return;
  throw classifyRegistryFailure(ref, failure, "push") ?? new Error(`Pushing ${ref} failed: ${failure}`);
}
