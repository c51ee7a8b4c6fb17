import { DEFAULT_PIDS_LIMIT, Labels, defaultMemoryLimit, testRunLabels, type BottleSpec, type ResolvedAgent } from "@claude-bottle/core";
import { testSpec } from "@claude-bottle/core/testing";
import { describe, expect, it } from "vitest";
import { containerCreateOptions, homeVolumeName, type ContainerPlan } from "../src/index.js";

const agent = (patch: Partial<ResolvedAgent> = {}): BottleSpec => testSpec({
  slug: "reviewer",
  origin: "project",
  image: { kind: "ref", ref: "example/agent:1" },
  args: [],
  workspace: "/home/me/project",
  mounts: [],
  env: [],
  network: true,
  resources: {},
  ...patch,
}, { name: "claude-bottle-reviewer-abc123" });

const plan = (patch: Partial<ContainerPlan> = {}): ContainerPlan => ({
  spec: agent(),
  image: "sha256:feed",
  imageConfig: { Entrypoint: null, Cmd: ["/bin/sh"] },
  extraArgs: [],
  env: {},
  user: { uid: 1000, gid: 1000 },
  tty: false,
  openStdin: true,
  stdinOnce: true,
  autoRemove: true,
  controls: [],
  ...patch,
});

describe("container create options", () => {
  it("hardens the container: no new privileges, every capability dropped, no Docker socket", () => {
    const options = containerCreateOptions(plan({ spec: agent({ mounts: [{ source: "/home/me/.gitconfig", target: "/home/agent/.gitconfig", readOnly: true }] }) }));
    expect(options.HostConfig?.SecurityOpt).toEqual(["no-new-privileges"]);
    expect(options.HostConfig?.CapDrop).toEqual(["ALL"]);
    expect(options.HostConfig?.CapAdd).toBeUndefined();
    expect(options.HostConfig?.Privileged).toBeUndefined();
    expect(JSON.stringify(options)).not.toContain("docker.sock");
  });

  it("mounts the workspace at /workspace, works there, runs as the host user with HOME in the agent's volume", () => {
    const options = containerCreateOptions(plan());
    expect(options.WorkingDir).toBe("/workspace");
    expect(options.User).toBe("1000:1000");
    expect(options.Env).toContain("HOME=/home/agent");
    expect(options.HostConfig?.Mounts).toEqual(
      expect.arrayContaining([
        { Type: "bind", Source: "/home/me/project", Target: "/workspace" },
        { Type: "volume", Source: homeVolumeName("reviewer", "/home/me/project"), Target: "/home" },
      ]),
    );
  });

  it("sizes a TTY from its first byte to the terminal's size (the engine's rows, columns), and only a TTY", () => {
    const size = { rows: 40, columns: 120 };
    expect(containerCreateOptions(plan({ tty: true, consoleSize: size })).HostConfig?.ConsoleSize).toEqual([40, 120]);
    expect(containerCreateOptions(plan({ tty: false, consoleSize: size })).HostConfig?.ConsoleSize).toBeUndefined();
    expect(containerCreateOptions(plan({ tty: true })).HostConfig?.ConsoleSize).toBeUndefined();
  });

  it("gives a bottle working elsewhere for a project (a worktree) that project's home", () => {
    const options = containerCreateOptions(plan({ spec: agent({ workspace: "/home/me/.local/share/wt/b1", homeProject: "/home/me/project" }) }));
    expect(options.HostConfig?.Mounts).toEqual(
      expect.arrayContaining([
        { Type: "bind", Source: "/home/me/.local/share/wt/b1", Target: "/workspace" },
        { Type: "volume", Source: homeVolumeName("reviewer", "/home/me/project"), Target: "/home" },
      ]),
    );
  });

  it("keeps the image's user when there is no host user", () => {
    expect(containerCreateOptions(plan({ user: undefined })).User).toBeUndefined();
  });

  it("labels the bottle with tool, agent, workspace and backend, and nothing from the environment", () => {
    const options = containerCreateOptions(
      plan({ spec: agent({ env: [{ name: "API_KEY", passthrough: true }] }), env: { API_KEY: "s3cret-value" } }),
    );
    expect(options.Labels).toEqual({
      [Labels.tool]: "true",
      [Labels.agent]: "reviewer",
      [Labels.workspace]: "/home/me/project",
      [Labels.backend]: "docker",
      // Only while a test run names itself (scripts/test), so its leftovers can be found.
      ...testRunLabels(),
    });
    expect(JSON.stringify(options.Labels)).not.toContain("s3cret-value");
    expect(options.Env).toContain("API_KEY=s3cret-value");
  });

  it("passes literals, passes set passthroughs, leaves unset passthroughs out, and lets the agent set HOME", () => {
    const options = containerCreateOptions(
      plan({
        spec: agent({
          env: [
            { name: "LIT", passthrough: false, value: "1" },
            { name: "SET", passthrough: true },
            { name: "UNSET", passthrough: true },
            { name: "HOME", passthrough: false, value: "/root" },
          ],
        }),
        env: { SET: "yes" },
      }),
    );
    expect(options.Env).toEqual(["HOME=/root", "LIT=1", "SET=yes"]);
  });

  it("cuts the network when the agent has none, and applies CPU and memory limits", () => {
    const options = containerCreateOptions(plan({ spec: agent({ network: false, resources: { cpus: 1.5, memory: 512 * 1024 * 1024 } }) }));
    expect(options.HostConfig?.NetworkMode).toBe("none");
    expect(options.HostConfig?.NanoCpus).toBe(1_500_000_000);
    expect(options.HostConfig?.Memory).toBe(536_870_912);
    expect(options.HostConfig?.MemorySwap).toBe(536_870_912);
    expect(containerCreateOptions(plan()).HostConfig?.NetworkMode).toBeUndefined();
  });

  it("limits processes and memory by default, so a fork bomb or a runaway build stays in the bottle", () => {
    const { HostConfig } = containerCreateOptions(plan());
    expect(HostConfig?.PidsLimit).toBe(DEFAULT_PIDS_LIMIT);
    expect(HostConfig?.Memory).toBe(defaultMemoryLimit());
    expect(HostConfig?.MemorySwap).toBe(defaultMemoryLimit());
    expect(containerCreateOptions(plan({ spec: agent({ resources: { pids: 64 } }) })).HostConfig?.PidsLimit).toBe(64);
  });

  it("lays the host controls read-only over the workspace and over any mount that exposes them", () => {
    const controls = [
      { source: "/home/me/project/.git/hooks", kind: "directory" as const },
      { source: "/home/me/project/.git/config", kind: "file" as const },
    ];
    const options = containerCreateOptions(
      plan({ controls, spec: agent({ mounts: [{ source: "/home/me/project/.git", target: "/gitdir", readOnly: false }] }) }),
    );
    const readOnly = options.HostConfig?.Mounts?.filter((m) => m.ReadOnly).map((m) => [m.Source, m.Target]);
    expect(readOnly).toEqual([
      ["/home/me/project/.git/hooks", "/workspace/.git/hooks"],
      ["/home/me/project/.git/config", "/workspace/.git/config"],
      ["/home/me/project/.git/hooks", "/gitdir/hooks"],
      ["/home/me/project/.git/config", "/gitdir/config"],
    ]);
    // `.git` itself, the parent of both, is bound over itself (writable, as the workspace): the bottle cannot move it away.
    const pins = options.HostConfig?.Mounts?.filter((m) => m.Type === "bind" && !m.ReadOnly && m.Target !== "/workspace" && m.Source === m.Target.replace("/workspace", "/home/me/project"));
    expect(pins?.map((m) => m.Target)).toEqual(["/workspace/.git"]);
  });

  it("builds the command: the agent's command replaces the image's, args and extra args follow", () => {
    const withCommand = containerCreateOptions(plan({ spec: agent({ command: ["claude"], args: ["--model", "sonnet"] }), extraArgs: ["-p", "hi"] }));
    expect(withCommand.Entrypoint).toEqual(["claude"]);
    expect(withCommand.Cmd).toEqual(["--model", "sonnet", "-p", "hi"]);

    const appendedToCmd = containerCreateOptions(plan({ spec: agent({ args: ["-c", "true"] }) }));
    expect(appendedToCmd.Entrypoint).toBeUndefined();
    expect(appendedToCmd.Cmd).toEqual(["/bin/sh", "-c", "true"]);

    const appendedToEntrypoint = containerCreateOptions(
      plan({ spec: agent({ args: ["--verbose"] }), imageConfig: { Entrypoint: ["claude"], Cmd: ["--help"] } }),
    );
    expect(appendedToEntrypoint.Cmd).toEqual(["--verbose"]);

    const imageDefault = containerCreateOptions(plan());
    expect(imageDefault.Entrypoint).toBeUndefined();
    expect(imageDefault.Cmd).toBeUndefined();
  });

  it("allocates a TTY and keeps stdin open as asked", () => {
    const options = containerCreateOptions(plan({ tty: true, stdinOnce: false, autoRemove: false }));
    expect(options).toMatchObject({ Tty: true, OpenStdin: true, StdinOnce: false, AttachStdin: true });
    expect(options.HostConfig?.AutoRemove).toBe(false);
  });
});
