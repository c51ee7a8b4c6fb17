import { execFile } from "node:child_process";
import { BottleError, ErrorCodes } from "@claude-bottle/core";

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Settings for every git command claude-bottle runs on the host: no hooks, no
 * fsmonitor, no pager or editor, no automatic maintenance (`commit` starts
 * `git maintenance run --auto`), no recursion into submodules.
 */
const SAFE_CONFIG = [
  "-c", "core.hooksPath=/dev/null",
  "-c", "core.fsmonitor=false",
  "-c", "core.pager=cat",
  "-c", "core.editor=true",
  "-c", "gc.auto=0",
  "-c", "maintenance.auto=false",
  "-c", "submodule.recurse=false",
];
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

/**
 * Runs git on a checkout a bottle has written, with every filter driver its
 * config defines blanked: `status` and `add` run a driver's `clean` or
 * `process` command on any file whose attributes name it, and the attributes
 * (`.gitattributes`, `info/attributes`) are the bottle's to write. The
 * drivers are read from the very config this command will read, includes and
 * all, so none is missed whatever its name; each is given as
 * GIT_CONFIG_KEY_<n> (which, unlike `-c`, takes any name as it is) and so
 * reaches any git that one starts.
 *
 * Complete for what claude-bottle runs here (status, ls-files, add, commit,
 * rev-parse): of the settings that make git start a program, hooks and
 * fsmonitor are off (SAFE_CONFIG), filters are blanked here, the editor is
 * `true` and `commit` is given `-m`, `--no-verify` and `--no-gpg-sign`. None
 * of them shows a diff (diff.external, textconv), merges (merge drivers) or
 * talks to a remote (ssh, credential helpers, askpass, upload-pack hooks).
 * None is allowed to run in a repository nested in the checkout, whose own
 * config would name programs no one can list in advance: the callers keep
 * git out of those (status --ignore-submodules=dirty, no `add` where one is).
 */
export async function runGitOnBottleWork(args: readonly string[], options: { cwd: string; env?: Readonly<Record<string, string>> }): Promise<GitResult> {
  const listed = await runGit(["config", "-z", "--name-only", "--get-regexp", "^filter\\..+\\.(clean|smudge|process)$"], options);
  // Exit 1: no driver at all. Anything else: the config cannot be read, and the command would fail on it too.
  const keys = listed.code === 0 ? [...new Set(listed.stdout.split("\0").filter(Boolean))] : [];
  const drivers = new Set(keys.map((key) => key.slice(0, key.lastIndexOf("."))));
  const blanks: [string, string][] = [...keys.map((key): [string, string] => [key, ""]), ...[...drivers].map((driver): [string, string] => [`${driver}.required`, "false"])];
  const env: Record<string, string> = { ...options.env, GIT_CONFIG_COUNT: String(blanks.length) };
  blanks.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return runGit(args, { ...options, env });
}

/** Runs git and returns its stdout; a failure becomes `error(stderr)`. */
export async function git(args: readonly string[], options: { cwd: string; env?: Readonly<Record<string, string>> }, error: (stderr: string) => BottleError): Promise<string> {
  const result = await runGit(args, options);
  if (result.code !== 0) throw error(result.stderr.trim());
  return result.stdout;
}
