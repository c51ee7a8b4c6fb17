import { userInfo } from "node:os";
import type { EnvEntry } from "@claude-bottle/core";
import { runGit } from "./git.js";

export interface GitIdentity {
  name: string;
  email: string;
}

/** A value git accepts as a name or an e-mail: one printable line without git's own delimiters. */
function usable(value: string | undefined): string | undefined {
  const line = value?.trim();
  return line && !/[\u0000-\u001f\u007f<>]/.test(line) && line.length <= 256 ? line : undefined;
}

/**
 * The user's git identity as seen from `dir` (`user.name`, `user.email`), so
 * a bottle's commits carry it. Where git has none, the login name with an
 * address that cannot be mistaken for a real one: a commit in a bottle
 * never fails with "Please tell me who you are". One git process reads both
 * (a spawn is a few milliseconds of every start).
 */
export async function hostGitIdentity(dir: string): Promise<GitIdentity> {
  const result = await runGit(["config", "-z", "--get-regexp", "^user\\.(name|email)$"], { cwd: dir }).catch(() => undefined);
  const found = result?.code === 0 ? lastValues(result.stdout) : new Map<string, string>();
  const name = usable(found.get("user.name"));
  const email = usable(found.get("user.email"));
  let login = "agent";
  try {
    login = usable(userInfo().username)?.replace(/[^A-Za-z0-9_.-]/g, "") || login;
  } catch {
    // No passwd entry for this user: keep the generic name.
  }
  return { name: name ?? login, email: email ?? `${login}@claude-bottle.invalid` };
}

/** `git config -z` entries (`key\nvalue\0`), the last value of each key winning, as `git config --get` would. */
function lastValues(output: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const entry of output.split("\0")) {
    const newline = entry.indexOf("\n");
    if (newline > 0) values.set(entry.slice(0, newline).toLowerCase(), entry.slice(newline + 1));
  }
  return values;
}

/** GIT_AUTHOR_* and GIT_COMMITTER_*, as git reads them before any config. */
export function identityVariables(identity: GitIdentity): Record<string, string> {
  return {
    GIT_AUTHOR_NAME: identity.name,
    GIT_AUTHOR_EMAIL: identity.email,
    GIT_COMMITTER_NAME: identity.name,
    GIT_COMMITTER_EMAIL: identity.email,
  };
}

/** The identity as environment entries, each unless the agent sets that variable itself. */
export function identityEnv(identity: GitIdentity, existing: readonly EnvEntry[]): EnvEntry[] {
  const taken = new Set(existing.map((e) => e.name));
  return Object.entries(identityVariables(identity))
    .filter(([name]) => !taken.has(name))
    .map(([name, value]) => ({ name, passthrough: false, value }));
}
