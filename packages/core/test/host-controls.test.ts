import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { pinnedDirectories, prepareHostControls, readOnlyOverlays } from "../src/index.js";

const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, stdio: "pipe" });

describe("prepareHostControls", () => {
  it("lists .claude-bottle, git hooks and config, creating the directories a bottle could otherwise create", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cb-controls-"));
    git(dir, "init", "-q");
    const controls = await prepareHostControls(dir);
    expect(controls).toEqual([
      { source: join(dir, ".claude-bottle"), kind: "directory" },
      { source: join(dir, ".git", "hooks"), kind: "directory" },
      { source: join(dir, ".git", "config"), kind: "file" },
      { source: join(dir, ".git", "commondir"), kind: "file" },
    ]);
    // The commondir made names the directory itself: git reads it as no change.
    expect(readFileSync(join(dir, ".git", "commondir"), "utf8")).toBe(".\n");
    git(dir, "status", "--short");
    expect(statSync(join(dir, ".claude-bottle")).isDirectory()).toBe(true);
    expect(readOnlyOverlays(controls, [{ source: dir, target: "/workspace" }]).map((o) => o.target)).toEqual([
      "/workspace/.claude-bottle",
      "/workspace/.git/hooks",
      "/workspace/.git/config",
      "/workspace/.git/commondir",
    ]);
  });

  it("overlays a control wherever a mount exposes it, and nowhere else", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cb-controls-"));
    git(dir, "init", "-q");
    const controls = await prepareHostControls(dir);
    const overlays = readOnlyOverlays(controls, [
      { source: dir, target: "/workspace" },
      { source: join(dir, ".git"), target: "/gitdir" },
      { source: join(dir, ".git", "hooks"), target: "/hooks" },
      { source: tmpdir(), target: "/tmp-all" },
      { source: join(dir, "src"), target: "/src" },
    ]);
    const targets = overlays.map((o) => o.target);
    expect(targets).toEqual(expect.arrayContaining(["/gitdir/hooks", "/gitdir/config", "/hooks"]));
    expect(targets).toContain(`/tmp-all/${dir.slice(tmpdir().length + 1)}/.git/config`);
    expect(targets.some((t) => t.startsWith("/src"))).toBe(false);
  });

  it("covers submodules' git directories and a repository without a hooks folder", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cb-controls-"));
    mkdirSync(join(dir, ".git", "modules", "lib"), { recursive: true });
    writeFileSync(join(dir, ".git", "config"), "");
    writeFileSync(join(dir, ".git", "modules", "lib", "HEAD"), "ref: refs/heads/main\n");
    writeFileSync(join(dir, ".git", "modules", "lib", "config"), "");
    const sources = (await prepareHostControls(dir)).map((c) => c.source);
    expect(sources).toContain(join(dir, ".git", "modules", "lib", "hooks"));
    expect(sources).toContain(join(dir, ".git", "modules", "lib", "config"));
    expect(statSync(join(dir, ".git", "hooks")).isDirectory()).toBe(true);
  });

  it("follows a worktree's .git file to its git directory and the shared one", async () => {
    const main = mkdtempSync(join(tmpdir(), "cb-controls-"));
    git(main, "init", "-q");
    git(main, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "init");
    const worktree = join(mkdtempSync(join(tmpdir(), "cb-wt-")), "wt");
    git(main, "worktree", "add", "-q", worktree);
    const controls = await prepareHostControls(worktree);
    expect(controls).toContainEqual({ source: join(main, ".git", "config"), kind: "file" });
    expect(controls).toContainEqual({ source: join(main, ".git", "hooks"), kind: "directory" });
    // What says where the repository is: the .git file, and the worktree's commondir and gitdir.
    const id = join(main, ".git", "worktrees", "wt");
    expect(controls).toContainEqual({ source: join(worktree, ".git"), kind: "file" });
    expect(controls).toContainEqual({ source: join(id, "commondir"), kind: "file" });
    expect(controls).toContainEqual({ source: join(id, "gitdir"), kind: "file" });
    expect(new Set(controls.map((c) => c.source)).size).toBe(controls.length);
    // A bottle on the main checkout cannot point another worktree elsewhere either.
    const fromMain = (await prepareHostControls(main)).map((c) => c.source);
    expect(fromMain).toContain(join(id, "commondir"));
  });

  it("refuses a repository whose .git/commondir sends git elsewhere (a planted one runs code at the next git status)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cb-controls-"));
    git(dir, "init", "-q");
    writeFileSync(join(dir, ".git", "commondir"), "../evil/.git\n");
    await expect(prepareHostControls(dir)).rejects.toMatchObject({ code: "WORKSPACE_UNSAFE", message: expect.stringContaining("../evil/.git") });
  });

  it("refuses a workspace whose .claude-bottle or .git/config is a symbolic link", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cb-controls-"));
    symlinkSync("/", join(dir, ".claude-bottle"));
    await expect(prepareHostControls(dir)).rejects.toMatchObject({ code: "WORKSPACE_UNSAFE" });
    const other = mkdtempSync(join(tmpdir(), "cb-controls-"));
    mkdirSync(join(other, ".git"));
    symlinkSync("/etc/passwd", join(other, ".git", "config"));
    await expect(prepareHostControls(other)).rejects.toMatchObject({ code: "WORKSPACE_UNSAFE" });
  });

  it("pins every directory between a mount and a control, so none can be renamed: .git, a linked worktree's pointers, as writable as their mount", async () => {
    const main = mkdtempSync(join(tmpdir(), "cb-controls-"));
    git(main, "init", "-q");
    git(main, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "init");
    git(main, "worktree", "add", "-q", join(mkdtempSync(join(tmpdir(), "cb-wt-")), "wt"));
    const mounts = [
      { source: main, target: "/workspace" },
      { source: join(main, ".git"), target: "/gitdir", readOnly: true },
    ];
    const pins = pinnedDirectories(readOnlyOverlays(await prepareHostControls(main), mounts), mounts);
    expect(pins).toEqual(
      expect.arrayContaining([
        { source: join(main, ".git"), target: "/workspace/.git", readOnly: false },
        { source: join(main, ".git", "worktrees"), target: "/workspace/.git/worktrees", readOnly: false },
        { source: join(main, ".git", "worktrees", "wt"), target: "/workspace/.git/worktrees/wt", readOnly: false },
        // A pin never widens its mount: under a read-only mount it is read-only.
        { source: join(main, ".git", "worktrees", "wt"), target: "/gitdir/worktrees/wt", readOnly: true },
      ]),
    );
    // Mount targets are mountpoints already; nothing is pinned twice.
    expect(pins.map((p) => p.target)).not.toContain("/gitdir");
    expect(pins.map((p) => p.target)).not.toContain("/workspace");
    expect(new Set(pins.map((p) => p.target)).size).toBe(pins.length);
  });
});
