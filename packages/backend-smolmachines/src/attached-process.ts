import { constants } from "node:os";
import type { Stdio } from "@claude-bottle/core";
import { execa } from "execa";

export interface AttachedResult {
  exitCode: number;
  /** The end of what the process wrote on stderr, when stderr was piped (not a terminal). */
  stderrTail: string;
  canceled: boolean;
}

const STDERR_TAIL_BYTES = 16 * 1024;

/**
 * Runs `file` connected to `stdio`. The process's own streams are inherited,
 * so a terminal stays a terminal (smolvm's `-t` takes it from there); other
 * streams are piped, stdout and stderr apart. Resolves when the process ends
 * and its output has been written.
 */
export async function runAttached(
  file: string,
  args: readonly string[],
  options: { stdio: Stdio; env: Readonly<Record<string, string>>; signal: AbortSignal; onSpawn?: () => void },
): Promise<AttachedResult> {
  const { stdin, stdout, stderr } = options.stdio;
  const own = (stream: unknown, fallback: "pipe") => (stream === process.stdin || stream === process.stdout || stream === process.stderr ? "inherit" : fallback);
  const child = execa(file, args, {
    reject: false,
    buffer: false,
    // smolvm takes a default machine name from SMOLVM_MACHINE_NAME (newer releases); every call here names its machine.
    env: { ...options.env, SMOLVM_MACHINE_NAME: undefined },
    cancelSignal: options.signal,
    stdin: own(stdin, "pipe"),
    stdout: own(stdout, "pipe"),
    stderr: own(stderr, "pipe"),
  });

  if (options.onSpawn) child.once("spawn", options.onSpawn);
  let stderrTail = "";
  if (child.stdin) {
    // The process may end without reading all of stdin; that is not an error.
    child.stdin.on("error", () => {});
    stdin.pipe(child.stdin);
  }
  child.stdout?.pipe(stdout, { end: false });
  if (child.stderr) {
    child.stderr.on("data", (chunk: Buffer) => {
      stderrTail = (stderrTail + chunk.toString("utf8")).slice(-STDERR_TAIL_BYTES);
    });
    child.stderr.pipe(stderr, { end: false });
  }
  try {
    const result = await child;
    // A process killed by a signal exits as a shell reports it: 128 + the signal's number.
    const signalNumber = result.signal ? constants.signals[result.signal] : 15;
    return { exitCode: result.exitCode ?? 128 + signalNumber, stderrTail, canceled: result.isCanceled };
  } finally {
    if (child.stdin) stdin.unpipe(child.stdin);
  }
}
