import { execFile } from "node:child_process";

export interface CapturedRun {
  /** The exit code; undefined when the program could not be started or was killed. */
  code: number | undefined;
  stdout: string;
  stderr: string;
}

/** Runs a short command to completion and collects its output; never rejects. */
export function runCaptured(file: string, args: readonly string[], signal: AbortSignal): Promise<CapturedRun> {
  return new Promise((resolve) => {
    execFile(file, args, { signal, env: { PATH: "/usr/bin:/bin" } }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : undefined) : 0;
      resolve({ code, stdout, stderr: stderr || (error && code === undefined ? error.message : "") });
    });
  });
}
