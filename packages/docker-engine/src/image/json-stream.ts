import { StringDecoder } from "node:string_decoder";

/** One message of the engine's JSON progress streams (build, pull, push). */
export interface EngineMessage {
  stream?: string;
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  aux?: { ID?: string; Tag?: string; Digest?: string; Size?: number };
  error?: string;
  errorDetail?: { code?: number; message?: string };
}

/**
 * Reads a stream of newline-delimited JSON messages to its end, handing each
 * to `onMessage`. Rejects when the stream errors (a destroyed request, a
 * dropped connection); an `error` message is the caller's to interpret.
 */
export function readEngineMessages(stream: NodeJS.ReadableStream, onMessage: (message: EngineMessage) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    // A chunk may end inside a multi-byte character; the decoder holds it for the next one.
    const decoder = new StringDecoder("utf8");
    let pending = "";
    const flush = (text: string) => {
      const trimmed = text.trim();
      if (trimmed === "") return;
      let message: EngineMessage;
      try {
        message = JSON.parse(trimmed) as EngineMessage;
      } catch {
        // Not JSON: some proxies and old engines interleave plain text; keep it as output.
        message = { stream: `${trimmed}\n` };
      }
      onMessage(message);
    };
    stream.on("data", (chunk: Buffer | string) => {
      pending += typeof chunk === "string" ? chunk : decoder.write(chunk);
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) flush(line);
    });
    stream.on("end", () => {
      flush(pending + decoder.end());
      resolve();
    });
    stream.on("error", reject);
    // A destroyed response emits close without end.
    stream.on("close", () => reject(new Error("The engine closed the stream before it ended.")));
  });
}

/**
 * Reads a pull or push stream to its end, handing progress messages on, and
 * resolves with the engine's error message if one came (undefined otherwise):
 * the engine reports a failed transfer inside a stream that ends normally.
 */
export async function readTransfer(stream: NodeJS.ReadableStream, onProgress: (message: EngineMessage) => void): Promise<string | undefined> {
  let failure: string | undefined;
  await readEngineMessages(stream, (message) => {
    if (message.error || message.errorDetail) failure = message.errorDetail?.message ?? message.error;
    else onProgress(message);
  });
  return failure;
}
