import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { guardDirectories, recoverGuardedDirectories } from "../src/index.js";

/** The attacks of the docker one-way door tests, done on the host as root in a guest that unmounted its pins could. */
describe("guarded directories", () => {
  const root = mkdtempSync(join(tmpdir(), "cb-dir-guard-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  let workspace: string;
  let gitDir: string;
  beforeEach(() => {
    workspace = mkdtempSync(join(root, "workspace-"));
    gitDir = join(workspace, ".git");
    mkdirSync(join(gitDir, "worktrees", "feature"), { recursive: true });
    writeFileSync(join(gitDir, "config"), "good\n");
  });
  const guard = () => guardDirectories([join(gitDir, "worktrees", "feature"), gitDir, join(gitDir, "worktrees")]);

  it("leaves alone what the bottle did not move", async () => {
    expect(await recoverGuardedDirectories(await guard())).toEqual([]);
  });

  it("git dir moved away: the bottle's .git is moved aside and the original brought back", async () => {
    const guarded = await guard();
    renameSync(gitDir, `${gitDir}.orig`);
    mkdirSync(gitDir);
    writeFileSync(join(gitDir, "config"), "[core] fsmonitor = evil\n");
    expect(await recoverGuardedDirectories(guarded)).toEqual([{ path: gitDir, quarantined: `${gitDir}.from-bottle`, restoredFrom: `${gitDir}.orig` }]);
    expect(readFileSync(join(gitDir, "config"), "utf8")).toBe("good\n");
    expect(readFileSync(join(`${gitDir}.from-bottle`, "config"), "utf8")).toContain("evil");
    expect(existsSync(`${gitDir}.orig`)).toBe(false);
  });

  it("git dir replaced by a file, moved further down", async () => {
    const guarded = await guard();
    mkdirSync(join(workspace, "src"));
    renameSync(gitDir, join(workspace, "src", "hidden"));
    writeFileSync(gitDir, "gitdir: /workspace/.evil\n");
    expect(await recoverGuardedDirectories(guarded)).toEqual([{ path: gitDir, quarantined: `${gitDir}.from-bottle`, restoredFrom: join(workspace, "src", "hidden") }]);
    expect(lstatSync(gitDir).isDirectory()).toBe(true);
    expect(readFileSync(`${gitDir}.from-bottle`, "utf8")).toContain("gitdir:");
  });

  it("git dir replaced by a link: the link is moved aside, never followed", async () => {
    const elsewhere = join(root, "elsewhere");
    mkdirSync(elsewhere, { recursive: true });
    const guarded = await guard();
    renameSync(gitDir, `${gitDir}.orig`);
    symlinkSync(elsewhere, gitDir);
    const [outcome] = await recoverGuardedDirectories(guarded);
    expect(outcome).toEqual({ path: gitDir, quarantined: `${gitDir}.from-bottle`, restoredFrom: `${gitDir}.orig` });
    expect(readlinkSync(`${gitDir}.from-bottle`)).toBe(elsewhere);
    expect(existsSync(join(elsewhere, "worktrees"))).toBe(false);
  });

  it("copy moved over the git dir: the copy is moved aside, and the user told the original is gone", async () => {
    const guarded = await guard();
    cpSync(gitDir, join(root, "copy"), { recursive: true });
    rmSync(gitDir, { recursive: true });
    renameSync(join(root, "copy"), gitDir);
    expect(await recoverGuardedDirectories(guarded)).toEqual([{ path: gitDir, quarantined: `${gitDir}.from-bottle` }]);
    expect(existsSync(gitDir)).toBe(false);
  });

  it("a directory inside the git dir moved away is brought back too", async () => {
    const guarded = await guard();
    renameSync(join(gitDir, "worktrees", "feature"), join(gitDir, "worktrees", "feature.orig"));
    expect(await recoverGuardedDirectories(guarded)).toEqual([{ path: join(gitDir, "worktrees", "feature"), restoredFrom: join(gitDir, "worktrees", "feature.orig") }]);
  });
});
