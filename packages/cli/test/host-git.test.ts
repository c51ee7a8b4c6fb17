import { execFileSync, spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { WorktreeRecord } from "../src/bottles/records.js";
import { createWorktree, findRepository, nestedRepositories, saveChanges, uncommittedChanges } from "../src/bottles/worktree.js";

const IDENTITY = { GIT_AUTHOR_NAME: "T", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "T", GIT_COMMITTER_EMAIL: "t@t" };
const git = (cwd: string, ...args: string[]) => execFileSync("git", ["-c", "core.hooksPath=/dev/null", ...args], { cwd, encoding: "utf8", env: { ...process.env, ...IDENTITY } });
/** The git a user would run there, which may fail once a planted program has run (a `process` filter that speaks no protocol). */
const usersGit = (cwd: string, ...args: string[]) => spawnSync("git", args, { cwd, encoding: "utf8", env: { ...process.env, ...IDENTITY } });

/**
 * The git claude-bottle runs on the host to settle a worktree (status, then
 * add and commit for `rm --force`) on a checkout a bottle wrote as it would
 * have: every program the bottle names (a filter, an fsmonitor) writes a
 * marker outside the bottle's reach, and none may appear. Each attack is
 * first shown to work on the git a user would run there.
 */
describe("host git on a worktree a bottle wrote", () => {
  let root: string;
  let worktree: WorktreeRecord;
  const marker = (name: string) => join(root, "markers", name);
  /** A command for git to run that leaves a marker (and passes content through, as a filter does). */
  const leaves = (name: string) => `touch ${marker(name)}; cat`;
  const markers = () => ["clean", "process", "fsmonitor", "user-filter", "odd-filter"].filter((m) => existsSync(marker(m)));
  /** A file git must look at again: same size, new time. */
  const touchLater = (file: string) => utimesSync(file, new Date(Date.now() + 5000), new Date(Date.now() + 5000));

  beforeEach(async () => {
    root = realpathSync(mkdtempSync(join(tmpdir(), "cb-host-git-")));
    mkdirSync(join(root, "markers"));
    const top = join(root, "project");
    mkdirSync(top);
    git(top, "init", "-q", "-b", "main");
    writeFileSync(join(top, "README"), "hello\n");
    git(top, "add", "README");
    git(top, "commit", "-q", "-m", "initial");
    worktree = await createWorktree({ XDG_DATA_HOME: join(root, "data") }, await findRepository(top), "b1", "b1");
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("never runs a nested repository's filter: settling keeps the worktree and names the repository", async () => {
    // The example: a repository the bottle made, staged as a gitlink, with a clean filter in its .git/info/attributes.
    const nested = join(worktree.path, "nested");
    git(worktree.path, "init", "-q", "nested");
    writeFileSync(join(nested, "f"), "hi\n");
    git(nested, "add", "f");
    git(nested, "commit", "-q", "-m", "n");
    git(worktree.path, "add", "nested");
    writeFileSync(join(nested, ".git", "info", "attributes"), "* filter=evil\n");
    appendFileSync(join(nested, ".git", "config"), `[filter "evil"]\n\tclean = ${leaves("clean")}\n`);
    touchLater(join(nested, "f"));

    expect(await uncommittedChanges(worktree)).toEqual(["A  nested"]);
    expect(await nestedRepositories(worktree)).toEqual(["nested"]);
    expect(markers()).toEqual([]);
    // The same status without --ignore-submodules=dirty runs the filter.
    usersGit(worktree.path, "-c", "core.fsmonitor=false", "status", "--porcelain");
    expect(markers()).toEqual(["clean"]);
  });

  it("never runs a submodule's fsmonitor or process filter from a git directory the bottle made in the shared objects/", async () => {
    // The shared git directory's objects/ is the bottle's to write: a submodule's whole git directory there, its checkout a .git file.
    const modules = join(worktree.commonDir, "objects", "lib");
    const lib = join(worktree.path, "lib");
    mkdirSync(lib);
    git(lib, "init", "-q", `--separate-git-dir=${modules}`);
    writeFileSync(join(lib, "f"), "hi\n");
    git(lib, "add", "f");
    git(lib, "commit", "-q", "-m", "lib");
    git(worktree.path, "add", "lib");
    git(worktree.path, "commit", "-q", "-m", "a submodule");
    mkdirSync(join(modules, "info"), { recursive: true });
    writeFileSync(join(modules, "info", "attributes"), "* filter=p\n");
    appendFileSync(join(modules, "config"), `[core]\n\tfsmonitor = ${leaves("fsmonitor")}\n[filter "p"]\n\tprocess = ${leaves("process")}\n`);
    touchLater(join(lib, "f"));

    // Committed and unchanged to the outer repository, it is still work no commit of the worktree holds.
    expect(await uncommittedChanges(worktree)).toEqual([" S lib"]);
    expect(await nestedRepositories(worktree)).toEqual(["lib"]);
    expect(markers()).toEqual([]);
    usersGit(worktree.path, "status", "--porcelain");
    expect(markers()).toEqual(["process", "fsmonitor"]);
  });

  it("blanks every filter driver the config names when attributes the bottle wrote point files at it, odd names too", async () => {
    // The user's own drivers (a git-lfs), named for the bottle's files by the bottle's .gitattributes and the shared info/attributes.
    appendFileSync(join(worktree.commonDir, "config"), `[filter "user"]\n\tclean = ${leaves("user-filter")}\n\trequired = true\n[filter "a=b.c"]\n\tprocess = ${leaves("odd-filter")}\n`);
    writeFileSync(join(worktree.path, ".gitattributes"), "README filter=user\n");
    mkdirSync(join(worktree.commonDir, "info"), { recursive: true });
    writeFileSync(join(worktree.commonDir, "info", "attributes"), "work.txt filter=a=b.c\n");
    writeFileSync(join(worktree.path, "README"), "HELLO\n");
    touchLater(join(worktree.path, "README"));
    writeFileSync(join(worktree.path, "work.txt"), "work\n");

    expect((await uncommittedChanges(worktree)).sort()).toEqual([" M README", "?? .gitattributes", "?? work.txt"]);
    await saveChanges(worktree, "b1", IDENTITY);
    expect(markers()).toEqual([]);
    expect(git(worktree.path, "show", "HEAD:README")).toBe("HELLO\n");
    expect(await uncommittedChanges(worktree)).toEqual([]);
    writeFileSync(join(worktree.path, "work.txt"), "more\n");
    usersGit(worktree.path, "add", "work.txt");
    expect(markers()).toEqual(["odd-filter"]);
  });
});
