import { Readable } from "node:stream";
import type { LogsOptions } from "@claude-bottle/core";
import type Dockerode from "dockerode";
import { demultiplex } from "../engine/demux.js";

/**
 * Copies a bottle's output so far (and, with `follow`, until it stops or the
 * signal fires) to stdout and stderr, kept apart.
 */
export async function copyLogs(
  container: Dockerode.Container,
  options: LogsOptions,
  signal: AbortSignal,
): Promise<void> {
  const { Config } = await container.inspect();
  const { stdout, stderr } = options.stdio;
  let output: NodeJS.ReadableStream;
  try {
    // dockerode hands back a buffer without follow and a live stream with it.
    output = options.follow
      ? await container.logs({ follow: true, stdout: true, stderr: true, abortSignal: signal })
      : Readable.from([await container.logs({ follow: false, stdout: true, stderr: true })]);
  } catch (error) {
    if (signal.aborted) return;
    throw error;
  }
  await new Promise<void>((resolve, reject) => {
    output.on("end", resolve);
    // Following ends when the user interrupts: that is how `logs -f` is left, not a failure.
    output.on("close", resolve);
    output.on("error", (error) => (signal.aborted ? resolve() : reject(error)));
    if (Config.Tty) output.on("data", (chunk: Buffer) => stdout.write(chunk));
    else demultiplex(output, stdout, stderr);
  });
}
