import type { CommandEnvironment } from "../context.js";
import { exec } from "./exec.js";

/**
 * bash where the image has it (the claude image does), else the POSIX sh
 * every image with a shell has, busybox included.
 */
const SHELL_COMMAND = ["/bin/sh", "-c", "if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi"];

/** `shell <bottle>`: an interactive shell in a running bottle. */
export function shell(environment: CommandEnvironment, bottle: string): Promise<number> {
  return exec(environment, bottle, SHELL_COMMAND);
}
