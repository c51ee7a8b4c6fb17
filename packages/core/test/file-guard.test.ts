import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { guardFiles, restoreGuardedFiles } from "../src/index.js";

describe("guarded files", () => {
  const dir = mkdtempSync(join(tmpdir(), "cb-guard-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("puts back a changed file and keeps the bottle's version beside it", async () => {
    const file = join(dir, "config");
    writeFileSync(file, "good\n");
    const guarded = await guardFiles([file]);
    writeFileSync(file, "evil\n");
    expect(await restoreGuardedFiles(guarded)).toEqual([{ path: file, keptAs: `${file}.changed-in-bottle` }]);
    expect(readFileSync(file, "utf8")).toBe("good\n");
    expect(readFileSync(`${file}.changed-in-bottle`, "utf8")).toBe("evil\n");
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
