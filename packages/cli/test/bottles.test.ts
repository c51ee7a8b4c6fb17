import { execFileSync } from "node:child_process";
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bottlePaths, readRecord, writeRecord, type BottleRecord } from "../src/bottles/records.js";
import { bottleStatus, claudeCodeHookSettings, readReportedStatus } from "../src/bottles/status.js";
import { normalizeWorktreeFlag } from "../src/program.js";
import { createProject, type TestProject } from "./support/project.js";
import { runCli } from "./support/run-cli.js";

describe("start --worktree [BRANCH]", () => {
  it.each([
    [["start", "--worktree", "claude"], ["start", "--worktree=", "claude"]],
    [["start", "--worktree", "feature", "claude"], ["start", "--worktree", "feature", "claude"]],
    [["start", "claude", "--worktree", "feature"], ["start", "claude", "--worktree", "feature"]],
    [["start", "-d", "--worktree", "claude", "--", "--worktree", "x"], ["start", "-d", "--worktree=", "claude", "--", "--worktree", "x"]],
    [["--backend", "docker", "start", "--worktree", "claude", "--", "a"], ["--backend", "docker", "start", "--worktree=", "claude", "--", "a"]],
    [["start", "claude", "--", "--worktree"], ["start", "claude", "--", "--worktree"]],
    [["start", "--allow-host", "example.com", "--worktree", "claude"], ["start", "--allow-host", "example.com", "--worktree=", "claude"]],
  ])("%j is read as %j", (argv, expected) => {
    expect(normalizeWorktreeFlag(argv)).toEqual(expected);
  });
});

describe("the status a bottle reports", () => {
  const dir = mkdtempSync(join(tmpdir(), "cb-status-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const fresh = () => {
    const status = mkdtempSync(join(dir, "s-"));
    return { status, state: join(status, "state") };
  };

  it("reads a known word, with the time it was written", async () => {
    const { status, state } = fresh();
    writeFileSync(state, "waiting\n");
    utimesSync(state, new Date("2026-05-01T10:00:00Z"), new Date("2026-05-01T10:00:00Z"));
    expect(await readReportedStatus(status)).toEqual({ state: "waiting", since: "2026-05-01T10:00:00.000Z" });
  });

  it("believes nothing else: no file, garbage, a link, a FIFO, a directory, a huge file", async () => {
    const cases: ((state: string) => void)[] = [
      () => {},
      (state) => writeFileSync(state, "root:x:0:0\n"),
      (state) => symlinkSync("/etc/hostname", state),
      (state) => execFileSync("mkfifo", [state]),
      (state) => mkdirSync(state),
      (state) => writeFileSync(state, `done${" ".repeat(100)}x`),
    ];
    for (const make of cases) {
      const { status, state } = fresh();
      make(state);
      expect(await readReportedStatus(status)).toBeUndefined();
    }
  });

  it("is running (since creation) when nothing was reported, exited once the bottle no longer runs", () => {
    const created = "2026-01-01T00:00:00.000Z";
    expect(bottleStatus({ state: "running", created }, undefined)).toEqual({ state: "running", since: created });
    expect(bottleStatus({ state: "running", created }, { state: "done", since: created })).toEqual({ state: "done", since: created });
    expect(bottleStatus({ state: "stopped", created }, { state: "working", since: created })).toEqual({ state: "exited" });
  });

  it("installs Claude Code hooks for the events that change it, each writing only to the bottle's own status directory", () => {
    const { hooks } = claudeCodeHookSettings();
    expect(Object.keys(hooks).sort()).toEqual(["Notification", "PostToolUse", "PreToolUse", "Stop", "UserPromptSubmit"]);
    expect(hooks.Notification![0]!.matcher).toBe("permission_prompt|elicitation_dialog");
    for (const group of Object.values(hooks)) {
      for (const hook of group.flatMap((g) => g.hooks)) expect(hook.command).toMatch(/^printf '%s\\n' (working|waiting|done) > \/claude-bottle\/status\/\.state\.\$\$ && mv -f \/claude-bottle\/status\/\.state\.\$\$ \/claude-bottle\/status\/state$/);
    }
  });
});

describe("a bottle's record", () => {
  it("is written whole over a link planted at its name or at a temporary's, never through either", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cb-record-"));
    const victim = join(dir, "bashrc");
    writeFileSync(victim, "user's own\n");
    const paths = bottlePaths(join(dir, "bottle"));
    mkdirSync(paths.dir);
    symlinkSync("../bashrc", paths.record);
    // The temporary's name was once predictable (the pid).
    symlinkSync("../bashrc", `${paths.record}.${process.pid}.tmp`);
    const record: BottleRecord = { version: 1, name: "b", backend: "docker", agent: "claude", pid: process.pid, createdAt: new Date(0).toISOString() };
    await writeRecord(paths, record);
    expect(readFileSync(victim, "utf8")).toBe("user's own\n");
    expect(lstatSync(paths.record).isFile()).toBe(true);
    expect(await readRecord(paths.dir)).toEqual(record);
    rmSync(dir, { recursive: true });
  });
});

describe("worktrees and wait through a backend that runs nothing", () => {
  let project: TestProject;
  const run = (args: string[], env: Record<string, string> = {}) => runCli(args, { cwd: project.dir, env: { ...project.env, CLAUDE_BOTTLE_BACKEND: "fake", ...env } });
  const git = (...args: string[]) => execFileSync("git", args, { cwd: project.dir, encoding: "utf8" });

  beforeAll(async () => {
    project = createProject();
    project.installFakeBackend();
    project.writeAgent("bb", "image: example/bb:1\n");
    expect((await run(["trust", "--yes"])).code).toBe(0);
  });
  afterAll(() => rmSync(join(project.dir, ".."), { recursive: true, force: true }));

  it("refuses --worktree outside a git repository, or on a branch that exists, before anything runs", async () => {
    const outside = await run(["start", "--worktree", "bb"]);
    expect(outside.code).toBe(2);
    expect(outside.stderr).toContain("start --worktree needs a git repository with a commit");
    git("init", "-q", "-b", "main");
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "initial");
    const taken = await run(["start", "--worktree", "main", "bb"]);
    expect(taken.code).toBe(125);
    expect(taken.stderr).toContain("The branch main already exists");
  });

  it("after an attached bottle, removes its clean worktree, keeps its branch and says how to merge it", async () => {
    const result = await run(["start", "--worktree", "try-1", "bb"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`Merge it with: git -C ${project.dir} merge try-1`);
    expect(git("branch", "--list", "try-1")).toContain("try-1");
    expect(git("worktree", "list")).not.toContain("try-1");
  });

  it("keeps a detached worktree bottle under the name in its spec, so ls shows its branch", async () => {
    const started = await run(["start", "-d", "--worktree", "try-2", "bb"]);
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout).toMatch(/^claude-bottle-bb-[0-9a-f]{6}\n$/);
    const [listed] = JSON.parse((await run(["ls", "--json"])).stdout) as { name: string; worktree?: { branch: string; path: string } }[];
    expect(listed).toMatchObject({ name: started.stdout.trim(), worktree: { branch: "try-2" } });
    // At the branch's commit, detached: the bottle cannot write the branch, the host moves it once the bottle is gone.
    const revParse = (...args: string[]) => execFileSync("git", ["-C", listed!.worktree!.path, "rev-parse", ...args], { encoding: "utf8" });
    expect(revParse("--abbrev-ref", "HEAD")).toBe("HEAD\n");
    expect(revParse("HEAD")).toBe(revParse("refs/heads/try-2"));
  });

  it("wait: the state reached on stdout, 124 on a timeout, 125 for an unknown bottle", async () => {
    const [listed] = JSON.parse((await run(["ls", "--json"])).stdout) as { name: string }[];
    expect(await run(["wait", listed!.name, "--for", "done", "--timeout", "0.3"])).toMatchObject({ code: 124, stdout: "running\n" });
    const unknown = await run(["wait", "nope"]);
    expect(unknown.code).toBe(125);
    expect(unknown.stderr).toContain("There is no bottle called nope");
    expect((await run(["wait", "x", "--timeout", "soon"])).code).toBe(2);
  });
});
