import type { IncomingMessage } from "node:http";
import type { LogsOptions } from "@claude-bottle/core";
import type { EngineApi } from "@claude-bottle/docker-engine";
import { demultiplex } from "@claude-bottle/docker-engine";
import { inspectContainer } from "./lifecycle.js";

/**
 * Copies a bottle's output so far (and, with `follow`, until it stops or the
 * signal fires) to stdout and stderr, kept apart.
 */
export async function copyLogs(api: EngineApi, container: string, options: LogsOptions, signal: AbortSignal): Promise<void> {
  const { Config } = await inspectContainer(api, container);
  const { stdout, stderr } = options.stdio;
  let output: IncomingMessage;
  try {
    output = await api.request("GET", `/containers/${container}/logs`, {
      query: { follow: options.follow, stdout: true, stderr: true },
      ...(options.follow ? { signal } : {}),
    });
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
