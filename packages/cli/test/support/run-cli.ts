import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The built CLI, run exactly as the installed bin runs. */
export const CLI_BIN = fileURLToPath(new URL("../../bin.js", import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd: string;
  /** Added to a copy of the test's environment, minus CI (the tests choose the renderer). */
  env?: Record<string, string | undefined>;
  input?: string;
}

/** Starts the CLI; `result` settles when it exits. `stdout()` reads what it printed so far. */
export function startCli(args: readonly string[], options: RunOptions) {
  const env: Record<string, string | undefined> = { ...process.env, CI: undefined, ...options.env };
  const child: ChildProcess = spawn(process.execPath, [CLI_BIN, ...args], {
    cwd: options.cwd,
    env: Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as NodeJS.ProcessEnv,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin!.end(options.input ?? "");
  const result = new Promise<CliResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
  return { child, result, stdout: () => stdout, stderr: () => stderr };
}

export function runCli(args: readonly string[], options: RunOptions): Promise<CliResult> {
  return startCli(args, options).result;
}

/** Polls `check` until it returns a value; fails with `what` if the deadline passes first. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, deadlineMs = 60_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
