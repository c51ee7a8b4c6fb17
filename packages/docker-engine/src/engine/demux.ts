/** The engine's frame header: stream type (1 stdout, 2 stderr), three zero bytes, payload size (big-endian). */
const HEADER_BYTES = 8;
const STDERR = 2;

/**
 * A parser of the frames the engine multiplexes stdout and stderr into
 * (attach, exec and logs without a TTY). Frames may arrive cut anywhere, so
 * the unfinished tail is kept until the rest comes.
 */
function frameSplitter(onFrame: (stream: "stdout" | "stderr", payload: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= HEADER_BYTES) {
      const size = pending.readUInt32BE(4);
      if (pending.length < HEADER_BYTES + size) break;
      onFrame(pending[0] === STDERR ? "stderr" : "stdout", pending.subarray(HEADER_BYTES, HEADER_BYTES + size));
      pending = pending.subarray(HEADER_BYTES + size);
    }
  };
}

/** Splits a multiplexed stream back into stdout and stderr, as it arrives. */
export function demultiplex(stream: NodeJS.ReadableStream, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): void {
  const split = frameSplitter((which, payload) => (which === "stderr" ? stderr : stdout).write(payload));
  stream.on("data", (chunk: Buffer) => split(chunk));
}

/** Splits multiplexed output already in hand (logs without `follow`) into stdout and stderr. */
export function demultiplexBuffer(buffer: Buffer): { stdout: Buffer; stderr: Buffer } {
  const parts = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  frameSplitter((which, payload) => parts[which].push(payload))(buffer);
  return { stdout: Buffer.concat(parts.stdout), stderr: Buffer.concat(parts.stderr) };
}
