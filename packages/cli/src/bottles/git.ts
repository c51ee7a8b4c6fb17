import { execFile, spawn } from "node:child_process";
import { BottleError, ErrorCodes } from "@claude-bottle/core";

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Settings for every git command claude-bottle runs on the host: no hooks, no
 * fsmonitor, no editor, no automatic maintenance (`commit` starts
 * `git maintenance run --auto`), no recursion into submodules. The pager is
 * off too (NO_PAGER) but for output shown to the user (showGit), which gets
 * the user's own.
 */
const SAFE_CONFIG = [
  "-c", "core.hooksPath=/dev/null",
  "-c", "core.fsmonitor=false",
  "-c", "core.editor=true",
  "-c", "gc.auto=0",
  "-c", "maintenance.auto=false",
  "-c", "submodule.recurse=false",
];
const NO_PAGER = ["-c", "core.pager=cat"];
/** The environment for git: ours without any GIT_* that would redirect it, plus `extra`. */
function gitEnvironment(extra: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith("GIT_")) env[name] = value;
  return { ...env, GIT_TERMINAL_PROMPT: "0", GIT_OPTIONAL_LOCKS: "0", ...extra };
}

/** Runs the host's git; resolves with its exit code and output, rejects only when git cannot run at all. */
export function runGit(args: readonly string[], options: { cwd: string; env?: Readonly<Record<string, string>> }): Promise<GitResult> {
  return execGit([...NO_PAGER, ...args], options);
}

function execGit(args: readonly string[], options: { cwd: string; env?: Readonly<Record<string, string>> }): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    execFile(
      "git",
      [...SAFE_CONFIG, ...args],
      { cwd: options.cwd, env: gitEnvironment(options.env ?? {}), maxBuffer: 64 * 2 ** 20, encoding: "utf8" },
      (error, stdout, stderr) => {
        if (error && typeof (error as NodeJS.ErrnoException).code === "string") {
          reject(cannotRunGit(error));
          return;
        }
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

function cannotRunGit(error: Error): BottleError {
  return new BottleError(ErrorCodes.UNSUPPORTED, `Cannot run git: ${error.message}`, {
    hint: "Install git on this machine; worktree bottles need it.",
    cause: error,
  });
}

/**
 * The pager the user's git uses for `command` in `repository` (their own
 * checkout, whose config no bottle writes): `false` for none, else the
 * command. Read there, never where the output comes from: a bottle's
 * worktree config could name any program as its pager.
 */
export async function userPager(repository: string, command: string): Promise<string | false> {
  const env: Record<string, string> = process.env.GIT_PAGER !== undefined ? { GIT_PAGER: process.env.GIT_PAGER } : {};
  const own = await execGit(["config", "--get", `pager.${command}`], { cwd: repository });
  const setting = own.code === 0 ? own.stdout.trim() : "";
  // pager.<command> is a boolean or a command of its own.
  if (/^(false|no|off|0)$/i.test(setting)) return false;
  if (setting && !/^(true|yes|on|1)$/i.test(setting)) return setting;
  const pager = (await execGit(["var", "GIT_PAGER"], { cwd: repository, env })).stdout.trim();
  return pager === "" || pager === "cat" ? false : pager;
}

/**
 * Runs git with the terminal as its output, through `pager` (see userPager)
 * when it is one, as the user's own git would show it; resolves with git's
 * exit code.
 */
export function showGit(args: readonly string[], options: { cwd: string; env?: Readonly<Record<string, string>>; pager: string | false }): Promise<number> {
  const pager = ["-c", `core.pager=${options.pager === false ? "cat" : options.pager}`, "-c", `pager.${args[0]}=${options.pager !== false}`];
  return new Promise((resolve, reject) => {
    const child = spawn("git", [...SAFE_CONFIG, ...pager, ...args], { cwd: options.cwd, env: gitEnvironment(options.env ?? {}), stdio: ["inherit", "inherit", "inherit"] });
    child.once("error", (error) => reject(cannotRunGit(error)));
    child.once("close", (code) => resolve(code ?? 1));
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
 * reaches any git that one starts. Merge drivers are made `false` the same
 * way (a file whose attributes name one conflicts, for the user to resolve),
 * since merge and cherry-pick read the attributes of the bottle's commits.
 *
 * Complete for what claude-bottle runs here (status, ls-files, add, commit,
 * rev-parse, read-tree, diff, merge, cherry-pick): of the settings that make
 * git start a program, hooks and fsmonitor are off (SAFE_CONFIG), filters and
 * merge drivers are blanked here, the editor is `true` and `commit` is given
 * `-m`, `--no-verify` and `--no-gpg-sign`; `diff` is given `--no-ext-diff`
 * and `--no-textconv` (bottleDiffOptions), its pager is the user's (showGit).
 * None of them talks to a remote (ssh, credential helpers, askpass,
 * upload-pack hooks). None is allowed to run in a repository nested in the
 * checkout, whose own config would name programs no one can list in
 * advance: the callers keep git out of those (status
 * --ignore-submodules=dirty, no `add` where one is).
 */
export async function runGitOnBottleWork(args: readonly string[], options: { cwd: string; env?: Readonly<Record<string, string>> }): Promise<GitResult> {
  return runGit(args, { ...options, env: await bottleWorkEnvironment(options) });
}

/** The environment runGitOnBottleWork gives git: `options.env` and every driver blanked. */
export async function bottleWorkEnvironment(options: { cwd: string; env?: Readonly<Record<string, string>> }): Promise<Record<string, string>> {
  const listed = await runGit(["config", "-z", "--name-only", "--get-regexp", "^(filter\\..+\\.(clean|smudge|process)|merge\\..+\\.driver)$"], options);
  // Exit 1: no driver at all. Anything else: the config cannot be read, and the command would fail on it too.
  const keys = listed.code === 0 ? [...new Set(listed.stdout.split("\0").filter(Boolean))] : [];
  const filters = keys.filter((key) => key.startsWith("filter."));
  const drivers = new Set(filters.map((key) => key.slice(0, key.lastIndexOf("."))));
  const blanks: [string, string][] = [
    ...filters.map((key): [string, string] => [key, ""]),
    ...[...drivers].map((driver): [string, string] => [`${driver}.required`, "false"]),
    ...keys.filter((key) => key.startsWith("merge.")).map((key): [string, string] => [key, "false"]),
  ];
  const env: Record<string, string> = { ...options.env, GIT_CONFIG_COUNT: String(blanks.length) };
  blanks.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return env;
}

/** For every diff of a bottle's work: no program its attributes pick (an external diff, a textconv) runs on it. */
export const bottleDiffOptions = ["--no-ext-diff", "--no-textconv"] as const;

/** Runs git and returns its stdout; a failure becomes `error(stderr)`. */
export async function git(args: readonly string[], options: { cwd: string; env?: Readonly<Record<string, string>> }, error: (stderr: string) => BottleError): Promise<string> {
  const result = await runGit(args, options);
  if (result.code !== 0) throw error(result.stderr.trim());
  return result.stdout;
}
