import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { attempt, buildTestRegistryImage, busyboxGitContext } from "@claude-bottle/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeAgentTraces, removeHomesOf, requireDocker } from "./support/docker.js";
import { cliFor, hostGit, initRepository } from "./support/parallel.js";
import { createProject, type TestProject } from "./support/project.js";

const SMOLVM_DOUBLE = fileURLToPath(new URL("../../backend-smolmachines/test/fixtures/smolvm", import.meta.url));

/** What the bottle must not change, read on the host before and after it ran. */
function snapshot(project: TestProject) {
  const git = join(project.dir, ".git");
  const read = (file: string) => (existsSync(file) ? readFileSync(file, "utf8") : "(none)");
  return {
    // The bottles' own branches aside.
    refs: hostGit(project.dir, "for-each-ref", "--format=%(refname) %(objectname)", "refs/tags", "refs/heads/main", "refs/heads/other"),
    packedRefs: read(join(git, "packed-refs")),
    head: read(join(git, "HEAD")),
    index: readFileSync(join(git, "index")).toString("hex"),
    otherWorktreeHead: read(join(git, "worktrees", "other", "HEAD")),
    config: read(join(git, "config")),
    hooks: readdirSync(join(git, "hooks")).sort(),
    packs: readdirSync(join(git, "objects", "pack")).sort(),
    alternates: read(join(git, "objects", "info", "alternates")),
  };
}

/**
 * Issue 26, item 6: a `--worktree` bottle gets the repository's git directory
 * read-only but for the objects and its own `worktrees/<id>`. It tries to
 * move main, rewrite packed-refs and tags, change the main checkout's index
 * and HEAD, another worktree's HEAD, the shared config and hooks, delete the
 * packs, and to make the host's settle write main through its HEAD; each
 * fails. Its own commits (on a detached HEAD) reach its branch when it ends.
 */
// Docker under runc and under gVisor; smolmachines has its own boundary (a VM).
for (const [backend, isolation] of [["docker", "runc"], ["docker", "gvisor"], ["smolmachines", undefined]] as const) {
  describe(`a worktree bottle writes only objects and its own worktree's git state (${backend}${isolation ? `, ${isolation}` : ""}${backend === "smolmachines" ? ", through the smolvm double" : ""})`, () => {
    let project: TestProject;
    let cli: ReturnType<typeof cliFor>;
    const slug = `wtgit-${randomBytes(3).toString("hex")}`;
    let rmContext = () => {};

    beforeAll(() => {
      requireDocker();
      if (backend === "smolmachines" && process.getuid?.() !== 0) throw new Error("The smolvm double runs bottles in mount namespaces: these tests need root.");
      project = createProject();
      initRepository(project.dir);
      hostGit(project.dir, "tag", "v1");
      // Another worktree of the user's, whose state the bottle must leave alone.
      hostGit(project.dir, "worktree", "add", "-q", "-b", "other", join(dirname(project.dir), "other"));
      // Refs in packed-refs, objects in a pack: what a cloned or collected repository has.
      hostGit(project.dir, "gc", "-q");
      const context = busyboxGitContext();
      rmContext = () => rmSync(context, { recursive: true, force: true });
      project.writeUserAgent(slug, `build: { dockerfile: ${join(context, "Dockerfile")}, context: ${context} }\ncommand: [sh, -c]\nnetwork: false\n${isolation ? `isolation: ${isolation}\n` : ""}`);
      cli = cliFor(
        project,
        backend === "docker"
          ? { CLAUDE_BOTTLE_BACKEND: "docker" }
          : {
              CLAUDE_BOTTLE_BACKEND: "smolmachines",
              CLAUDE_BOTTLE_SMOLVM: SMOLVM_DOUBLE,
              CLAUDE_BOTTLE_REGISTRY_IMAGE: buildTestRegistryImage(),
              SMOLVM_DOUBLE_STATE: join(dirname(project.dir), "smolvm-double-state"),
            },
      );
    });

    afterAll(async () => {
      for (const bottle of await cli.ls().catch(() => [])) await cli.run(["rm", "--force", bottle.name]);
      if (backend === "docker") removeHomesOf(project.dir);
      removeAgentTraces([slug]);
      rmContext();
      rmSync(dirname(project.dir), { recursive: true, force: true });
    });

    it("cannot move main, packed-refs, tags, the main checkout's index and HEAD, another worktree, config, hooks or packs; its commits reach its branch", async () => {
      const before = snapshot(project);
      const attacks: [string, string][] = [
        ["main by git", "git update-ref refs/heads/main $head"],
        ["main as a file", 'echo $head > "$cd_/refs/heads/main"'],
        ["packed-refs", 'echo "$head refs/heads/main" > "$cd_/packed-refs"'],
        ["tag by git", "git tag evil"],
        ["tag as a file", 'echo $head > "$cd_/refs/tags/v1"'],
        ["new branch", "git branch evil"],
        // Its own branch too: only the host moves it, to the bottle's HEAD, once it is gone.
        ["own branch by git", "git update-ref refs/heads/wt-attack $head"],
        ["main index", 'echo junk > "$cd_/index"'],
        ["main HEAD", 'echo "ref: refs/heads/evil" > "$cd_/HEAD"'],
        ["other worktree HEAD", 'echo $head > "$cd_/worktrees/other/HEAD"'],
        ["shared config", 'git config --file "$cd_/config" core.fsmonitor evil'],
        ["shared hook", 'echo evil > "$cd_/hooks/post-checkout"'],
        ["packs removed", 'rm "$cd_"/objects/pack/*.pack'],
        ["alternates", 'echo /tmp > "$cd_/objects/info/alternates"'],
        ["gc", "git gc -q"],
      ];
      const script = [
        "cd /workspace",
        "gd=$(sed -n 's/^gitdir: //p' .git); cd_=$(cd \"$gd\" && cd \"$(cat commondir)\" && pwd)",
        'echo one > one.txt && git add one.txt && git commit -q -m "bottle one" && echo two > two.txt && git add two.txt && git commit -q -m "bottle two" || echo "commit failed"',
        "head=$(git rev-parse HEAD)",
        ...attacks.map(([name, command]) => attempt(name, command)),
        "git log --format=%s | tr '\\n' '|' | sed 's/^/log: /'; echo",
        "git status --porcelain | wc -l | sed 's/^ */changes: /'",
        "git rev-parse --abbrev-ref HEAD | sed 's/^/head: /'",
      ].join("\n");
      const result = await cli.run(["start", "--worktree", "wt-attack", slug, "--", script]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout.trim().split("\n")).toEqual([
        ...attacks.map(([name]) => `${name}: refused`),
        "log: bottle two|bottle one|initial|",
        "changes: 0",
        "head: HEAD",
      ]);

      expect(snapshot(project)).toEqual(before);
      expect(hostGit(project.dir, "fsck", "--no-progress", "--no-dangling")).toBe("");
      // The user sees the bottle's work on its branch; the clean worktree is gone.
      expect(hostGit(project.dir, "log", "--format=%s", "main..wt-attack")).toBe("bottle two\nbottle one\n");
      expect(result.stderr).toContain("is on branch wt-attack. Merge it with:");
      expect(readdirSync(join(project.dir, ".git", "worktrees"))).toEqual(["other"]);
    });

    it("a history the bottle rewrote moves its branch all the same, said, the old tip kept in the reflog", async () => {
      const initial = hostGit(project.dir, "rev-parse", "main").trim();
      // The branch starts at main's commit: amended, it is no fast-forward.
      const result = await cli.run(["start", "--worktree", "wt-amend", slug, "--", 'cd /workspace && git commit -q --amend -m "initial, rewritten" && echo amended']);
      expect(result, result.stderr).toMatchObject({ code: 0, stdout: "amended\n" });
      expect(result.stderr).toMatch(new RegExp(`rewrote its history: the branch wt-amend moved from ${initial.slice(0, 12)} to [0-9a-f]{12}, not a fast-forward; the old tip stays in git reflog wt-amend\\.`));
      expect(hostGit(project.dir, "log", "--format=%s", "wt-amend")).toBe("initial, rewritten\n");
      expect(hostGit(project.dir, "rev-parse", "wt-amend@{1}").trim()).toBe(initial);
      expect(hostGit(project.dir, "rev-parse", "main").trim()).toBe(initial);
    });

    it("a HEAD the bottle pointed at main makes the host's rm --force commit on the bottle's branch, never on main", async () => {
      const main = hostGit(project.dir, "rev-parse", "main");
      const bottle = await cli.detach([
        "--worktree",
        "wt-head",
        slug,
        "--",
        [
          "cd /workspace",
          "gd=$(sed -n 's/^gitdir: //p' .git)",
          'echo work > work.txt && git add work.txt && git commit -q -m "bottle work"',
          'echo "ref: refs/heads/main" > "$gd/HEAD"',
          "echo dirty > dirty.txt",
          "echo ready",
          "exec sleep 600",
        ].join("\n"),
      ]);
      await cli.logsUntil(bottle, "ready");
      const removed = await cli.run(["rm", "--force", bottle]);
      expect(removed.code, removed.stderr).toBe(0);
      expect(removed.stderr).toContain(`names no commit; the branch wt-head stays at ${main.slice(0, 12)}.`);
      expect(removed.stdout).toMatch(/^Saved 2 uncommitted changes of .+ as commit [0-9a-f]+ on branch wt-head\.\n/);

      expect(hostGit(project.dir, "rev-parse", "main")).toBe(main);
      // Nothing lost either: what the bottle had, committed or not, is in the commit rm saved on its branch.
      expect(hostGit(project.dir, "log", "--format=%s", "main..wt-head")).toBe(`claude-bottle: uncommitted changes of ${bottle}, saved by rm --force\n`);
      expect(hostGit(project.dir, "show", "wt-head:work.txt")).toBe("work\n");
      expect(hostGit(project.dir, "show", "wt-head:dirty.txt")).toBe("dirty\n");
    });
  });
}
