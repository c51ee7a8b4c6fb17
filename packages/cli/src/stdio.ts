import type { Stdio } from "@claude-bottle/core";

/** The process's own streams: the backend allocates a TTY exactly when stdin is a terminal. */
export function processStdio(): Stdio {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
}
