import { bottleEnvironment, type ResolvedAgent } from "@claude-bottle/core";
import { HOME_TARGET } from "./bwrap-args.js";

/**
 * Host directories visible in the sandbox (read-only). PATH keeps only the
 * host's entries under these, since the others do not exist inside.
 */
const VISIBLE_ROOTS = ["/usr", "/bin", "/sbin", "/opt"];
const DEFAULT_PATH = ["/usr/local/bin", "/usr/bin", "/bin"];

/**
 * The whole environment of the sandboxed process, built rather than inherited,
 * so nothing of the host's environment leaks in unless the agent names it.
 * It is handed to bwrap as its process environment, never as --setenv
 * arguments: a process's arguments are readable by every user on the host
 * (ps, /proc/PID/cmdline), its environment only by its owner.
 *
 * Passthrough entries take their value from `hostEnv`; unset ones are left out.
 */
export function sandboxEnv(
  agent: Pick<ResolvedAgent, "env">,
  hostEnv: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  return {
    PATH: sandboxPath(hostEnv.PATH),
    HOME: HOME_TARGET,
    TERM: hostEnv.TERM || "dumb",
    LANG: hostEnv.LANG || "C.UTF-8",
    // Core builds the agent's own entries: literals as written, passthroughs from the host, unset ones left out.
    ...bottleEnvironment(agent.env, hostEnv),
  };
}

/** ~/.local/bin first (where Claude Code's own installer puts it, kept in the persistent home), then the visible host PATH. */
function sandboxPath(hostPath: string | undefined): string {
  const visible = (hostPath ?? "")
    .split(":")
    .filter((dir) => VISIBLE_ROOTS.some((root) => dir === root || dir.startsWith(`${root}/`)));
  const entries = [`${HOME_TARGET}/.local/bin`, ...(visible.length ? visible : DEFAULT_PATH)];
  return [...new Set(entries)].join(":");
}
