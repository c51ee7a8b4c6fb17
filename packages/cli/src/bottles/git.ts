import { execFile } from "node:child_process";
import { BottleError, ErrorCodes } from "@claude-bottle/core";

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Settings for every git command claude-bottle runs on the host in a
 * checkout a bottle has written: no hooks, no fsmonitor, no pager or editor,
 * nothing the bottle's files could make the host run.
 */
const SAFE_CONFIG = ["-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "core.pager=cat", "-c", "core.editor=true"];

/** The environment for git: ours without any GIT_* that would redirect it, plus `extra`. */
function gitEnvironment(extra: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith("GIT_")) env[name] = value;
  return { ...env, GIT_TERMINAL_PROMPT: "0", GIT_OPTIONAL_LOCKS: "0", ...extra };
}

/** Runs the host's git; resolves with its exit code and output, rejects only when git cannot run at all. */
export function runGit(args: readonly string[], options: { cwd: string; env?: Readonly<Record<string, string>> }): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    execFile(
      "git",
      [...SAFE_CONFIG, ...args],
      { cwd: options.cwd, env: gitEnvironment(options.env ?? {}), maxBuffer: 64 * 2 ** 20, encoding: "utf8" },
      (error, stdout, stderr) => {
        if (error && typeof (error as NodeJS.ErrnoException).code === "string") {
          reject(
            new BottleError(ErrorCodes.UNSUPPORTED, `Cannot run git: ${error.message}`, {
              hint: "Install git on this machine; worktree bottles need it.",
              cause: error,
            }),
          );
          return;
        }
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

/** Runs git and returns its stdout; a failure becomes `error(stderr)`. */
export async function git(args: readonly string[], options: { cwd: string; env?: Readonly<Record<string, string>> }, error: (stderr: string) => BottleError): Promise<string> {
  const result = await runGit(args, options);
  if (result.code !== 0) throw error(result.stderr.trim());
  return result.stdout;
}
