import { BottleError, ErrorCodes, abortedError, testRunLabels, throwIfAborted, type BackendContext } from "@claude-bottle/core";
import type Dockerode from "dockerode";
import { packBuildContext, readBuildContext } from "./context.js";
import { readEngineMessages } from "./json-stream.js";

export interface BuildImageOptions {
  /** Absolute path of the Dockerfile; it may live outside the context. */
  dockerfile: string;
  /** Absolute path of the build context directory. */
  context: string;
  args?: Readonly<Record<string, string>>;
  /** `repo:tag` names to give the image. */
  tags?: readonly string[];
  labels?: Readonly<Record<string, string>>;
  /** Where the RUN steps may connect; default the engine's own network. */
  network?: BuildNetworkMode;
}

/**
 * A build's network: `none`, or a network (the bottle's, which has no route out)
 * with the proxy its steps are to use. The proxy goes in as the predefined proxy
 * build args, which the engine keeps out of the image's history and cache keys.
 */
export type BuildNetworkMode = { mode: "none" } | { mode: string; proxyUrl: string };

/** The part of a BackendContext a build reports to. */
export type BuildReporter = Pick<BackendContext, "emit" | "signal">;

/** Lines of build output quoted in the error when a build fails. */
const FAILURE_TAIL_LINES = 15;

/**
 * Builds `context` with `dockerfile` and returns the image ID (`sha256:…`).
 * Output goes to `ctx.emit` as `output` events, each `Step n/m` as a
 * `progress` event. On abort the request is destroyed, the step's container is
 * removed, and ABORTED is thrown; a failed build throws IMAGE_BUILD_FAILED
 * with the tail of its log.
 */
export async function buildImage(docker: Dockerode, options: BuildImageOptions, ctx: BuildReporter): Promise<string> {
  throwIfAborted(ctx.signal);
  const context = await readBuildContext(options.context, options.dockerfile).catch((error: unknown) => {
    throw new BottleError(ErrorCodes.IMAGE_BUILD_FAILED, `Cannot read the build inputs: ${(error as Error).message}`, {
      hint: "Check that the Dockerfile and the build context directory exist and are readable.",
      cause: error,
    });
  });
  throwIfAborted(ctx.signal);

  const log: string[] = [];
  let imageId: string | undefined;
  let failure: string | undefined;
  // The classic builder runs each RUN step in a container it names in its output;
  // an interrupted build can leave that one behind, so it is removed here.
  let stepContainer: string | undefined;

  try {
    const stream = await docker.buildImage(await packBuildContext(context), {
      dockerfile: context.dockerfileName,
      t: [...(options.tags ?? [])],
      buildargs: { ...options.args, ...proxyArgs(options.network) },
      ...(options.network && { networkmode: options.network.mode }),
      labels: { ...testRunLabels(), ...options.labels },
      rm: true,
      forcerm: true,
      abortSignal: ctx.signal,
      // Several `t` parameters name several tags; the typings allow only one.
    } as unknown as Dockerode.ImageBuildOptions);
    await readEngineMessages(stream, (message) => {
      if (message.stream) {
        for (const line of message.stream.split("\n")) {
          if (line.trim() === "") continue;
          log.push(line);
          ctx.emit({ type: "output", phase: "build", line });
          const step = /^Step (\d+)\/(\d+) : /.exec(line);
          if (step) {
            ctx.emit({ type: "progress", phase: "build", message: line, current: Number(step[1]), total: Number(step[2]) });
          }
          const running = /^ ---> Running in ([0-9a-f]{12,64})/.exec(line);
          if (running) stepContainer = running[1];
        }
      }
      if (message.aux?.ID) imageId = message.aux.ID;
      if (message.error || message.errorDetail) {
        failure = message.errorDetail?.message ?? message.error ?? "unknown error";
      }
    });
  } catch (error) {
    if (ctx.signal.aborted) {
      if (stepContainer) await docker.getContainer(stepContainer).remove({ force: true }).catch(() => {});
      throw abortedError(ctx.signal.reason);
    }
    failure = error instanceof Error ? error.message : String(error);
  }

  if (failure !== undefined) {
    const tail = log.slice(-FAILURE_TAIL_LINES).join("\n");
    throw new BottleError(
      ErrorCodes.IMAGE_BUILD_FAILED,
      `The image build failed: ${failure.trim()}${tail ? `\nLast lines of the build:\n${tail}` : ""}`,
      { hint: `Fix the Dockerfile (${options.dockerfile}) or its context (${options.context}) and start again.` },
    );
  }
  if (imageId) return imageId;
  // Engines that do not report the ID in an aux message still tagged the image.
  const firstTag = options.tags?.[0];
  if (firstTag) return (await docker.getImage(firstTag).inspect()).Id;
  throw new BottleError(ErrorCodes.IMAGE_BUILD_FAILED, "The engine finished the build without reporting an image ID.", {
    hint: "Pass a tag so the image can be found, or upgrade the Docker engine.",
  });
}

/** The proxy for the build's steps, in both spellings tools read (curl and wget the lower-case one, others the upper). */
function proxyArgs(network: BuildNetworkMode | undefined): Record<string, string> {
  if (network === undefined || !("proxyUrl" in network)) return {};
  const url = network.proxyUrl;
  return { HTTP_PROXY: url, HTTPS_PROXY: url, http_proxy: url, https_proxy: url };
}
