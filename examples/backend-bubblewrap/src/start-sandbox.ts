import { spawn, type StdioOptions } from "node:child_process";
import type { Writable } from "node:stream";
import { abortedError, BottleError, exitCodeOf, isProcessTerminal, pipeStdio, type Stdio } from "@claude-bottle/core";
import { BubblewrapErrorCodes, INSTALL_HINT } from "./errors.js";

/** The fd bwrap reads the seccomp program from: the first one after stdin, stdout and stderr. */
export const SECCOMP_FD = 3;

export interface SandboxProcess {
  bwrap: string;
  args: readonly string[];
  /** The sandboxed process's whole environment (bwrap passes its own on). */
  env: Readonly<Record<string, string>>;
  stdio: Stdio;
  /** Written to SECCOMP_FD; bwrap must then be told --seccomp SECCOMP_FD. */
  seccomp?: Buffer;
  /** Aborting kills the sandbox. */
  signal: AbortSignal;
}

export interface StartedSandbox {
  /** The agent's exit code (128 + N when killed by signal N); rejects with ABORTED when the signal fired. */
  exited: Promise<number>;
}

/**
 * True when the bottle should get the user's real terminal: the streams are this
 * process's own and stdin is a TTY. bwrap then inherits them, and the agent
 * handles raw mode and window size itself; anything else is piped.
 */
export function usesProcessTerminal(stdio: Stdio): boolean {
  return isProcessTerminal(stdio);
}

/** Spawns bwrap and resolves once it is running; its exit is awaited through `exited`. */
export async function startSandbox(sandbox: SandboxProcess): Promise<StartedSandbox> {
  const terminal = usesProcessTerminal(sandbox.stdio);
  const stdio: StdioOptions = terminal ? ["inherit", "inherit", "inherit"] : ["pipe", "pipe", "pipe"];
  if (sandbox.seccomp) stdio.push("pipe");

  const child = spawn(sandbox.bwrap, sandbox.args, { env: sandbox.env, stdio });
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", (error) => reject(spawnFailure(sandbox.bwrap, error)));
  });

  if (sandbox.seccomp) {
    const seccompPipe = child.stdio[SECCOMP_FD] as Writable;
    // bwrap failing before it reads the program closes the pipe; its own exit code reports that.
    seccompPipe.on("error", () => {});
    seccompPipe.end(sandbox.seccomp);
  }
  // Piped: core's wiring keeps stdout and stderr apart and never ends the caller's streams.
  const release = terminal ? () => {} : pipeStdio(child, sandbox.stdio);

  let aborted = false;
  const kill = () => {
    aborted = true;
    // bwrap dies of SIGTERM at once; --die-with-parent then takes the whole sandbox with it.
    child.kill("SIGTERM");
  };
  if (sandbox.signal.aborted) kill();
  else sandbox.signal.addEventListener("abort", kill, { once: true });

  // "close", not "exit": it waits for stdout and stderr to drain, so no output is lost.
  const exited = new Promise<number>((resolve, reject) => {
    child.once("close", (code, signal) => {
      sandbox.signal.removeEventListener("abort", kill);
      release();
      if (aborted) reject(abortedError(sandbox.signal.reason));
      else resolve(exitCodeOf(code, signal));
    });
  });
  return { exited };
}

function spawnFailure(bwrap: string, error: Error & { code?: string }): BottleError {
  if (error.code === "ENOENT") {
    return new BottleError(BubblewrapErrorCodes.BUBBLEWRAP_NOT_FOUND, `bubblewrap was not found at ${bwrap}.`, {
      hint: INSTALL_HINT,
      cause: error,
    });
  }
  return new BottleError(BubblewrapErrorCodes.BUBBLEWRAP_FAILED, `bubblewrap (${bwrap}) could not be started: ${error.message}`, {
    hint: "Check that the file is executable by you, or run `claude-bottle --backend bubblewrap doctor`.",
    cause: error,
  });
}
