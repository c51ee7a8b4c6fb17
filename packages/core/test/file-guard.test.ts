import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { guardFiles, restoreGuardedFiles } from "../src/index.js";

/**
 * The restore runs on the host, in directories the bottle wrote in: each
 * attack plants a link (absolute or relative, which resolves on the host) or
 * swaps a directory, and the user's file it aims at must stay as it was.
 */
describe("guarded files", () => {
  const root = mkdtempSync(join(tmpdir(), "cb-guard-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  let dir: string;
  let gitDir: string;
  let config: string;
  let victim: string;
  beforeEach(() => {
    dir = mkdtempSync(join(root, "case-"));
    gitDir = join(dir, "workspace", ".git");
    mkdirSync(gitDir, { recursive: true });
    config = join(gitDir, "config");
    writeFileSync(config, "good\n");
    // A file of the user outside the workspace, which the bottle cannot write but would like to.
    victim = join(dir, "bashrc");
    writeFileSync(victim, "user's own\n");
  });

  it("puts back a changed file and keeps the bottle's version beside it", async () => {
    const guarded = await guardFiles([config]);
    writeFileSync(config, "evil\n");
    expect(await restoreGuardedFiles(guarded)).toEqual([{ path: config, keptAs: `${config}.changed-in-bottle` }]);
    expect(readFileSync(config, "utf8")).toBe("good\n");
    expect(readFileSync(`${config}.changed-in-bottle`, "utf8")).toBe("evil\n");
    expect(lstatSync(`${config}.changed-in-bottle`).mode & 0o777).toBe(0o600);
  });

  for (const [kind, target] of [
    ["absolute", () => victim],
    ["relative", () => join("..", "..", basename(victim))],
  ] as const) {
    it(`does not write through a ${kind} link planted at <file>.changed-in-bottle`, async () => {
      const guarded = await guardFiles([config]);
      writeFileSync(config, "evil\n");
      symlinkSync(target(), `${config}.changed-in-bottle`);
      expect(readFileSync(`${config}.changed-in-bottle`, "utf8")).toBe("user's own\n"); // the link does reach the victim

      expect(await restoreGuardedFiles(guarded)).toEqual([{ path: config, keptAs: `${config}.changed-in-bottle.2` }]);
      expect(readFileSync(victim, "utf8")).toBe("user's own\n");
      expect(readFileSync(config, "utf8")).toBe("good\n");
      expect(readFileSync(`${config}.changed-in-bottle.2`, "utf8")).toBe("evil\n");
      expect(readlinkSync(`${config}.changed-in-bottle`)).toBe(target());
    });
  }

  it("still puts the file back when links are planted at every numbered name beside it", async () => {
    const guarded = await guardFiles([config]);
    writeFileSync(config, "evil\n");
    symlinkSync(victim, `${config}.changed-in-bottle`);
    for (let n = 2; n <= 9; n++) symlinkSync(victim, `${config}.changed-in-bottle.${n}`);
    const [outcome] = await restoreGuardedFiles(guarded);
    expect(outcome?.keptAs).toMatch(/\.changed-in-bottle\.[0-9a-f]{12}$/);
    expect(readFileSync(outcome!.keptAs!, "utf8")).toBe("evil\n");
    expect(readFileSync(config, "utf8")).toBe("good\n");
    expect(readFileSync(victim, "utf8")).toBe("user's own\n");
  });

  it("does not write through links planted at the names a restore used to take for its temporary", async () => {
    const guarded = await guardFiles([config]);
    writeFileSync(config, "evil\n");
    for (const name of ["config.claude-bottle-restore", "config.tmp", `config.${process.pid}.tmp`]) symlinkSync(victim, join(gitDir, name));
    await restoreGuardedFiles(guarded);
    expect(readFileSync(victim, "utf8")).toBe("user's own\n");
    expect(readFileSync(config, "utf8")).toBe("good\n");
    // The temporary it did use is gone: only the planted links and the kept copy are left beside the config.
    expect(readdirSync(gitDir).sort()).toEqual(["config", "config.changed-in-bottle", `config.${process.pid}.tmp`, "config.claude-bottle-restore", "config.tmp"].sort());
  });

  it("moves a link put in place of the guarded file aside, never writing through it", async () => {
    const guarded = await guardFiles([config]);
    unlinkSync(config);
    symlinkSync(victim, config);
    expect(await restoreGuardedFiles(guarded)).toEqual([{ path: config, keptAs: `${config}.changed-in-bottle` }]);
    expect(readFileSync(victim, "utf8")).toBe("user's own\n");
    expect(lstatSync(config).isFile()).toBe(true);
    expect(readFileSync(config, "utf8")).toBe("good\n");
    expect(readlinkSync(`${config}.changed-in-bottle`)).toBe(victim);
  });

  it("puts back a file the bottle removed", async () => {
    const guarded = await guardFiles([config]);
    unlinkSync(config);
    expect(await restoreGuardedFiles(guarded)).toEqual([{ path: config }]);
    expect(readFileSync(config, "utf8")).toBe("good\n");
  });

  it("writes nothing when the directory was swapped for a link (mv .git .git.orig; ln -s elsewhere .git)", async () => {
    const elsewhere = join(dir, "elsewhere");
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, "config"), "user's own\n");
    const guarded = await guardFiles([config]);
    writeFileSync(config, "evil\n");
    renameSync(gitDir, `${gitDir}.orig`);
    symlinkSync(join("..", "elsewhere"), gitDir);

    const [outcome] = await restoreGuardedFiles(guarded);
    expect(outcome).toMatchObject({ path: config, notRestored: expect.stringContaining("no longer the directory it was") });
    expect(readdirSync(elsewhere)).toEqual(["config"]);
    expect(readFileSync(join(elsewhere, "config"), "utf8")).toBe("user's own\n");
  });

  it("writes nothing when the directory was swapped for one the bottle made", async () => {
    const guarded = await guardFiles([config]);
    renameSync(gitDir, `${gitDir}.orig`);
    mkdirSync(gitDir);
    writeFileSync(config, "evil\n");
    expect((await restoreGuardedFiles(guarded))[0]).toMatchObject({ notRestored: expect.any(String) });
    expect(readdirSync(gitDir)).toEqual(["config"]);
    expect(readFileSync(config, "utf8")).toBe("evil\n");
  });

  it("writes nothing when a directory further up was swapped for a link (a worktree's git directory)", async () => {
    const worktree = join(gitDir, "worktrees", "feature");
    mkdirSync(worktree, { recursive: true });
    const pointer = join(worktree, "gitdir");
    writeFileSync(pointer, "/somewhere/.git\n");
    const elsewhere = join(dir, "elsewhere", "feature");
    mkdirSync(elsewhere, { recursive: true });
    const guarded = await guardFiles([pointer]);
    renameSync(join(gitDir, "worktrees"), join(gitDir, "worktrees.orig"));
    symlinkSync(dirname(elsewhere), join(gitDir, "worktrees"));

    expect((await restoreGuardedFiles(guarded))[0]).toMatchObject({ path: pointer, notRestored: expect.any(String) });
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  it("refuses to guard a file that is a link already", async () => {
    unlinkSync(config);
    symlinkSync(victim, config);
    await expect(guardFiles([config])).rejects.toMatchObject({ code: "WORKSPACE_UNSAFE" });
  });

  it("does not bring back a file whose directory went away meanwhile (a worktree removed)", async () => {
    const worktree = join(dir, "worktrees", "gone");
    mkdirSync(worktree, { recursive: true });
    writeFileSync(join(worktree, "commondir"), "../..\n");
    const guarded = await guardFiles([join(worktree, "commondir")]);
    rmSync(worktree, { recursive: true });
    expect(await restoreGuardedFiles(guarded)).toEqual([]);
    expect(existsSync(worktree)).toBe(false);
  });
});
