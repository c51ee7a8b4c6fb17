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
    let pending = "";
    const flush = (text: string) => {
      const trimmed = text.trim();
      if (trimmed === "") return;
      try {
        onMessage(JSON.parse(trimmed) as EngineMessage);
      } catch {
        // Not JSON: some proxies and old engines interleave plain text; keep it as output.
        onMessage({ stream: `${trimmed}\n` });
      }
    };
    stream.on("data", (chunk: Buffer | string) => {
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) flush(line);
    });
    stream.on("end", () => {
      flush(pending);
      resolve();
    });
    stream.on("error", reject);
    // A destroyed response emits close without end.
    stream.on("close", () => reject(new Error("The engine closed the stream before it ended.")));
  });
}
