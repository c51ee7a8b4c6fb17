import { Writable } from "node:stream";
import { BottleError, ErrorCodes, formatDenial, parseDenial, type LogsOptions } from "@claude-bottle/core";
import type { EngineApi } from "@claude-bottle/docker-engine";
import { demultiplex } from "@claude-bottle/docker-engine";
import { statusCodeOf } from "@claude-bottle/docker-engine";
import { egressNames } from "./sidecar.js";

/**
 * `logs --egress`: the connections a bottle's proxy refused, one denial record
 * a line (core's `DenialRecord`), from the proxy's own output; with `follow`,
 * as they happen. A line of that output that is not a record is not passed on.
 */
export async function copyDenials(api: EngineApi, bottle: string, options: LogsOptions, signal: AbortSignal): Promise<void> {
  let response;
  try {
    response = await api.request("GET", `/containers/${egressNames(bottle).proxy}/logs`, {
      query: { stdout: true, follow: options.follow },
      signal,
    });
  } catch (error) {
    if (signal.aborted) return;
    if (statusCodeOf(error) === 404) {
      throw new BottleError(ErrorCodes.UNSUPPORTED, `The bottle ${bottle} has no egress proxy: it has no network, or it was started before egress policies.`, {
        hint: "Nothing it did was refused by a policy; see its own output with `claude-bottle logs`.",
      });
    }
    throw error;
  }
  let pending = "";
  const denials = new Writable({
    write(chunk: Buffer, _encoding, done) {
      pending += chunk.toString("utf8");
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const record = parseDenial(line);
        if (record) options.stdio.stdout.write(formatDenial(record));
      }
      done();
    },
  });
  await new Promise<void>((resolve, reject) => {
    response.on("end", resolve);
    response.on("close", resolve);
    response.on("error", (error) => (signal.aborted ? resolve() : reject(error)));
    demultiplex(response, denials, new Writable({ write: (_chunk, _encoding, done) => done() }));
  });
}
