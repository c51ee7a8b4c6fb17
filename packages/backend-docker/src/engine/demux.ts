/** The engine's frame header: stream type (1 stdout, 2 stderr), three zero bytes, payload size (big-endian). */
const HEADER_BYTES = 8;
const STDERR = 2;

/**
 * Splits a stream the engine multiplexes (attach, exec and logs without a
 * TTY) back into stdout and stderr. Frames may arrive cut anywhere, so the
 * unfinished tail is kept until the rest comes.
 */
export function demultiplex(stream: NodeJS.ReadableStream, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): void {
  let pending: Buffer = Buffer.alloc(0);
  stream.on("data", (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= HEADER_BYTES) {
      const size = pending.readUInt32BE(4);
      if (pending.length < HEADER_BYTES + size) break;
      const payload = pending.subarray(HEADER_BYTES, HEADER_BYTES + size);
      (pending[0] === STDERR ? stderr : stdout).write(payload);
      pending = pending.subarray(HEADER_BYTES + size);
    }
  });
}
