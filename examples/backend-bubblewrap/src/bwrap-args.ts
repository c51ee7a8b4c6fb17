import { WORKSPACE_TARGET, type Mount } from "@claude-bottle/core";
import type { HostLayout } from "./host-layout.js";

/** Where the per-agent home is bound; HOME points here. */
export const HOME_TARGET = "/home/agent";

/** Everything that decides the bwrap command line. Environment values are not here on purpose: see sandboxEnv. */
export interface SandboxSpec {
  /** Becomes the sandbox's hostname, so a shell prompt says where it is. */
  slug: string;
  /** Absolute host directory, bound read-write at /workspace. */
  workspace: string;
  /** Absolute host directory, bound read-write at /home/agent. */
  home: string;
  mounts: readonly Mount[];
  /** Laid over the workspace and the mounts, in order (pinned parents, then the read-only controls). */
  hostControls?: readonly Mount[];
  network: boolean;
  /** The agent gets the user's terminal (inherited stdio) rather than pipes. */
  terminal: boolean;
  /** The fd bwrap reads the seccomp program from; absent when there is no filter for this architecture. */
  seccompFd?: number;
  /** The program and all its arguments. */
  command: readonly string[];
}

/**
 * The bwrap arguments for one bottle: an empty tmpfs root with the host's
 * system directories read-only, fresh /dev, /proc and /tmp, the workspace and
 * the agent's home read-write, every namespace unshared (the network only
 * when the agent asks for it).
 */
export function bwrapArgs(spec: SandboxSpec, host: HostLayout): string[] {
  const args = ["--die-with-parent", "--unshare-all"];
  if (spec.network) args.push("--share-net");
  args.push("--hostname", `claude-bottle-${spec.slug}`);
  // Keystroke injection into the user's shell (TIOCSTI) is stopped by the seccomp
  // filter when there is one. Without one, --new-session stops it by detaching
  // from the controlling terminal; a terminal agent then misses window resizes,
  // which is the lesser harm. With pipes there is no terminal to lose.
  if (spec.seccompFd !== undefined) args.push("--seccomp", String(spec.seccompFd));
  if (!spec.terminal || spec.seccompFd === undefined) args.push("--new-session");

  args.push("--tmpfs", "/", "--ro-bind", "/usr", "/usr");
  for (const dir of host.systemDirs) {
    if (dir.symlinkTo !== undefined) args.push("--symlink", dir.symlinkTo, dir.path);
    else args.push("--ro-bind", dir.path, dir.path);
  }
  args.push("--ro-bind", "/etc", "/etc", "--ro-bind-try", "/opt", "/opt");
  if (spec.network && host.resolvConf) args.push("--ro-bind", host.resolvConf, host.resolvConf);
  args.push("--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp");

  args.push("--bind", spec.home, HOME_TARGET, "--bind", spec.workspace, WORKSPACE_TARGET);
  // After the workspace, so a mount may land inside it (a read-only .git, say).
  for (const mount of [...spec.mounts, ...(spec.hostControls ?? [])]) args.push(mount.readOnly ? "--ro-bind" : "--bind", mount.source, mount.target);
  args.push("--chdir", WORKSPACE_TARGET);

  // "--" ends bwrap's options, so a command starting with "-" is still the command.
  args.push("--", ...spec.command);
  return args;
}
