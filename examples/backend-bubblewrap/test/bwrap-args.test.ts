import { describe, expect, it } from "vitest";
import { bwrapArgs, sandboxEnv, type HostLayout, type SandboxSpec } from "../src/index.js";

const mergedUsr: HostLayout = {
  systemDirs: [
    { path: "/bin", symlinkTo: "usr/bin" },
    { path: "/lib", symlinkTo: "usr/lib" },
  ],
};

const spec = (overrides: Partial<SandboxSpec> = {}): SandboxSpec => ({
  slug: "reviewer",
  workspace: "/home/me/project",
  home: "/home/me/.cache/claude-bottle/bubblewrap/home/reviewer",
  mounts: [],
  network: false,
  terminal: false,
  seccompFd: 3,
  command: ["claude", "--model", "sonnet"],
  ...overrides,
});

/** The value following `flag` each time it appears, as [source, target] pairs for two-argument flags. */
function pairsAfter(args: string[], flag: string): [string, string][] {
  return args.flatMap((arg, i) => (arg === flag ? [[args[i + 1]!, args[i + 2]!] as [string, string]] : []));
}

describe("bwrapArgs", () => {
  it("unshares every namespace and shares the network only when the agent asks for it", () => {
    const offline = bwrapArgs(spec({ network: false }), mergedUsr);
    expect(offline).toContain("--unshare-all");
    expect(offline).not.toContain("--share-net");
    expect(offline).toContain("--die-with-parent");
    expect(bwrapArgs(spec({ network: true }), mergedUsr)).toContain("--share-net");
  });

  it("binds the workspace and home read-write and works in /workspace", () => {
    const args = bwrapArgs(spec(), mergedUsr);
    expect(pairsAfter(args, "--bind")).toEqual([
      ["/home/me/.cache/claude-bottle/bubblewrap/home/reviewer", "/home/agent"],
      ["/home/me/project", "/workspace"],
    ]);
    expect(args.slice(args.indexOf("--chdir"), args.indexOf("--chdir") + 2)).toEqual(["--chdir", "/workspace"]);
  });

  it("binds the host system read-only on an empty root and recreates its symlinks", () => {
    const args = bwrapArgs(spec(), { systemDirs: [{ path: "/bin", symlinkTo: "usr/bin" }, { path: "/lib64" }] });
    expect(args.slice(args.indexOf("--tmpfs"), args.indexOf("--tmpfs") + 2)).toEqual(["--tmpfs", "/"]);
    expect(pairsAfter(args, "--ro-bind")).toEqual([
      ["/usr", "/usr"],
      ["/lib64", "/lib64"],
      ["/etc", "/etc"],
    ]);
    expect(pairsAfter(args, "--symlink")).toEqual([["usr/bin", "/bin"]]);
    expect(pairsAfter(args, "--ro-bind-try")).toEqual([["/opt", "/opt"]]);
  });

  it("binds mounts read-only or read-write as asked, after the workspace so they may land inside it", () => {
    const args = bwrapArgs(
      spec({
        mounts: [
          { source: "/home/me/.gitconfig", target: "/home/agent/.gitconfig", readOnly: true },
          { source: "/srv/data", target: "/workspace/data", readOnly: false },
        ],
      }),
      mergedUsr,
    );
    expect(pairsAfter(args, "--ro-bind")).toContainEqual(["/home/me/.gitconfig", "/home/agent/.gitconfig"]);
    expect(pairsAfter(args, "--bind")).toContainEqual(["/srv/data", "/workspace/data"]);
    expect(args.lastIndexOf("/workspace/data")).toBeGreaterThan(args.indexOf("/workspace"));
  });

  it("binds the real resolv.conf only with the network on", () => {
    const host: HostLayout = { ...mergedUsr, resolvConf: "/run/systemd/resolve/stub-resolv.conf" };
    const resolv = ["/run/systemd/resolve/stub-resolv.conf", "/run/systemd/resolve/stub-resolv.conf"];
    expect(pairsAfter(bwrapArgs(spec({ network: true }), host), "--ro-bind")).toContainEqual(resolv);
    expect(pairsAfter(bwrapArgs(spec({ network: false }), host), "--ro-bind")).not.toContainEqual(resolv);
  });

  it("ends its options with -- and passes the command untouched", () => {
    const args = bwrapArgs(spec({ command: ["--looks-like-a-flag", "a b", "$HOME"] }), mergedUsr);
    expect(args.slice(args.indexOf("--"))).toEqual(["--", "--looks-like-a-flag", "a b", "$HOME"]);
  });

  it("keeps a terminal agent in its session when the seccomp filter stops keystroke injection", () => {
    const terminal = bwrapArgs(spec({ terminal: true, seccompFd: 3 }), mergedUsr);
    expect(terminal).not.toContain("--new-session");
    expect(terminal.slice(terminal.indexOf("--seccomp"), terminal.indexOf("--seccomp") + 2)).toEqual(["--seccomp", "3"]);
  });

  it("starts a new session for piped agents, and for every agent when there is no filter", () => {
    expect(bwrapArgs(spec({ terminal: false, seccompFd: 3 }), mergedUsr)).toContain("--new-session");
    const unfiltered = bwrapArgs(spec({ terminal: true, seccompFd: undefined }), mergedUsr);
    expect(unfiltered).toContain("--new-session");
    expect(unfiltered).not.toContain("--seccomp");
  });
});

describe("sandboxEnv", () => {
  const agent = {
    env: [
      { name: "ANTHROPIC_API_KEY", passthrough: true as const },
      { name: "UNSET_ONE", passthrough: true as const },
      { name: "CLAUDE_CODE_USE_BEDROCK", passthrough: false as const, value: "1" },
    ],
  };
  const host = { PATH: "/root/.pyenv/shims:/usr/local/bin:/usr/bin:/opt/tools/bin", ANTHROPIC_API_KEY: "sk-secret-value", TERM: "xterm", SSH_AUTH_SOCK: "/tmp/agent.sock" };

  it("builds the environment from the agent's entries only, skipping unset passthroughs", () => {
    expect(sandboxEnv(agent, host)).toEqual({
      PATH: "/home/agent/.local/bin:/usr/local/bin:/usr/bin:/opt/tools/bin",
      HOME: "/home/agent",
      TERM: "xterm",
      LANG: "C.UTF-8",
      ANTHROPIC_API_KEY: "sk-secret-value",
      CLAUDE_CODE_USE_BEDROCK: "1",
    });
  });

  it("lets a literal entry replace a default such as PATH", () => {
    const env = sandboxEnv({ env: [{ name: "PATH", passthrough: false, value: "/opt/only" }] }, host);
    expect(env.PATH).toBe("/opt/only");
  });

  it("is handed over as a process environment, never as --setenv arguments", () => {
    expect(bwrapArgs(spec(), mergedUsr)).not.toContain("--setenv");
  });
});
