import type { ChildProcess } from "node:child_process";
import type { Stdio } from "../backend.js";

/**
 * True when `stdio` is this process's own streams on a terminal: a child
 * should then inherit them (`stdio: "inherit"`), so the agent gets the real
 * terminal, its raw mode and its window size.
 */
export function isProcessTerminal(stdio: Stdio): boolean {
  return stdio.stdin === process.stdin && stdio.stdout === process.stdout && stdio.stderr === process.stderr && process.stdin.isTTY === true;
}

/**
 * Connects a child spawned with `stdio: "pipe"` to the `Stdio` of an
 * attached run: stdin piped in, stdout and stderr out and kept apart. The
 * caller's streams outlive the bottle, so they are never ended; a child that
 * exits without reading all of its input is not an error. Call the returned
 * function when the child has exited, to let go of the caller's stdin.
 */
export function pipeStdio(child: Pick<ChildProcess, "stdin" | "stdout" | "stderr">, stdio: Stdio): () => void {
  if (child.stdin) {
    child.stdin.on("error", () => {});
    stdio.stdin.pipe(child.stdin);
  }
  child.stdout?.pipe(stdio.stdout, { end: false });
  child.stderr?.pipe(stdio.stderr, { end: false });
  return () => {
    if (child.stdin) stdio.stdin.unpipe(child.stdin);
  };
}
