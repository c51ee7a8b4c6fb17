import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { busyboxGitContext } from "@claude-bottle/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeAgentTraces, removeHomesOf, requireDocker } from "./support/docker.js";
import { cliFor, hostGit, initRepository } from "./support/parallel.js";
import { createProject, type TestProject } from "./support/project.js";

/**
 * From many agents to merged work (issue 24): four worktree bottles on one
 * repository, each seen with `diff`, taken in with `merge` (plain, --squash,
 * --rebase), one stopping on a conflict in git's own state. The user's repository
 * defines drivers (a filter, a textconv, an external diff, a merge driver) that
 * the bottles' `.gitattributes` name; none of them may run on the host.
 */
describe("diff and merge of worktree bottles (docker)", () => {
  let project: TestProject;
  let cli: ReturnType<typeof cliFor>;
  let marks: string;
  const slug = `rvw-${randomBytes(3).toString("hex")}`;
  // The test's own git in the checkout, once the bottles' attributes are in it: the drivers made harmless, so what ran was claude-bottle's doing.
  const userGit = (...args: string[]) =>
    hostGit(project.dir, "-c", "filter.evil.clean=cat", "-c", "filter.evil.smudge=cat", "-c", "diff.evil.textconv=cat", "-c", "merge.evil.driver=false", ...args);
  const ran = () => (existsSync(marks) ? readdirSync(marks) : []);
  const bottles: Record<"alpha" | "beta" | "gamma" | "delta", string> = { alpha: "", beta: "", gamma: "", delta: "" };

  beforeAll(async () => {
    requireDocker();
    project = createProject();
    initRepository(project.dir);
    writeFileSync(join(project.dir, "shared.txt"), "one\ntwo\nthree\n");
    hostGit(project.dir, "add", "shared.txt");
    hostGit(project.dir, "commit", "-q", "-m", "shared");
    // The user's own drivers, as git-lfs defines one: a bottle's attributes must not make the host run them.
    marks = join(dirname(project.dir), "ran");
    mkdirSync(marks);
    for (const [key, mark] of [
      ["filter.evil.clean", "clean"],
      ["filter.evil.smudge", "smudge"],
      ["diff.evil.textconv", "textconv"],
      ["diff.evil.command", "external-diff"],
      ["merge.evil.driver", "merge-driver"],
    ] as const) {
      hostGit(project.dir, "config", key, `touch ${join(marks, mark)}; cat`);
    }
    const context = busyboxGitContext();
    project.writeUserAgent(slug, `build: { dockerfile: ${join(context, "Dockerfile")}, context: ${context} }\ncommand: [sh, -c]\nnetwork: false\n`);
    cleanContext = () => rmSync(context, { recursive: true, force: true });
    cli = cliFor(project, { CLAUDE_BOTTLE_BACKEND: "docker" });
    const commit = (file: string, text: string, message: string) => `printf '${text}' > ${file} && git add ${file} && git commit -q -m '${message}'`;
    const script = (...steps: string[]) => ["cd /workspace", ...steps, "echo finished", "exec sleep 600"].join(" && ");
    [bottles.alpha, bottles.beta, bottles.gamma, bottles.delta] = await Promise.all([
      // Another file, a change of its own to shared.txt, attributes naming the user's drivers (committed), and a new file left uncommitted.
      cli.detach(["--worktree", "alpha", slug, "--", script(commit("alpha.txt", "a\\n", "alpha file"), commit("shared.txt", "ONE\\ntwo\\nthree\\n", "alpha shared"), commit(".gitattributes", "* filter=evil diff=evil merge=evil\\n", "attributes"), "echo new > alpha-new.txt")]),
      // The same line of shared.txt, and attributes naming the drivers left uncommitted in its worktree.
      cli.detach(["--worktree", "beta", slug, "--", script(commit("shared.txt", "uno\\ntwo\\nthree\\n", "beta shared"), "echo '* filter=evil diff=evil' > .gitattributes")]),
      cli.detach(["--worktree", "gamma", slug, "--", script(commit("gamma.txt", "g1\\n", "gamma 1"), commit("gamma.txt", "g1\\ng2\\n", "gamma 2"))]),
      cli.detach(["--worktree", "delta", slug, "--", script(commit("delta.txt", "d1\\n", "delta 1"), commit("delta2.txt", "d2\\n", "delta 2"))]),
    ]);
    await Promise.all(Object.values(bottles).map((bottle) => cli.logsUntil(bottle, "finished")));
  });
  let cleanContext = () => {};

  afterAll(async () => {
    // Every bottle of the project, also those of a start that failed beside the others.
    for (const bottle of await cli.ls().catch(() => [])) await cli.run(["rm", "--force", bottle.name]);
    removeHomesOf(project.dir);
    removeAgentTraces([slug]);
    rmSync(dirname(project.dir), { recursive: true, force: true, maxRetries: 3 });
    cleanContext();
  });

  it("diff shows each bottle's commits and uncommitted changes against where its branch started, running or stopped", async () => {
    const alpha = await cli.run(["diff", "--json", bottles.alpha]);
    expect(alpha.code, alpha.stderr).toBe(0);
    expect(JSON.parse(alpha.stdout)).toEqual({
      name: bottles.alpha,
      branch: "alpha",
      files: [
        { path: ".gitattributes", added: 1, deleted: 0 },
        { path: "alpha-new.txt", added: 1, deleted: 0 },
        { path: "alpha.txt", added: 1, deleted: 0 },
        { path: "shared.txt", added: 1, deleted: 1 },
      ],
    });
    const beta = await cli.run(["diff", bottles.beta]);
    expect(beta.code, beta.stderr).toBe(0);
    expect(beta.stdout).toContain("-one\n+uno\n");
    expect(beta.stdout).toContain("+++ b/.gitattributes\n");
    const stat = await cli.run(["diff", "--stat", bottles.gamma]);
    expect(stat.code, stat.stderr).toBe(0);
    expect(stat.stdout).toMatch(/gamma\.txt \| 2 \+\+\n 1 file changed, 2 insertions\(\+\)/);
    // Running, the bottles' commits are on their detached HEADs only: the branches have not moved, and merge says to stop first.
    expect(hostGit(project.dir, "rev-parse", "alpha")).toBe(hostGit(project.dir, "rev-parse", "main"));
    const running = await cli.run(["merge", bottles.alpha]);
    expect(running.code).toBe(125);
    expect(running.stderr).toContain(`${bottles.alpha} is still running`);
    expect(running.stderr).toContain(`claude-bottle stop ${bottles.alpha}`);

    for (const bottle of Object.values(bottles)) expect((await cli.run(["stop", bottle])).code).toBe(0);
    const stopped = await cli.run(["diff", "--json", bottles.delta]);
    expect(JSON.parse(stopped.stdout).files).toEqual([
      { path: "delta.txt", added: 1, deleted: 0 },
      { path: "delta2.txt", added: 1, deleted: 0 },
    ]);
    // The bottles' own indexes were never written: the new file is still untracked there.
    const alphaWorktree = (await cli.bottle(bottles.alpha))!.worktree!.path;
    expect(hostGit(alphaWorktree, "ls-files", "--others")).toBe("alpha-new.txt\n");
    expect(hostGit(alphaWorktree, "diff", "--cached", "--name-only")).toBe("");
    expect(ran()).toEqual([]);
    // The attack is real: the user's own git, run plainly there, starts the drivers the bottle's attributes name.
    try {
      hostGit(alphaWorktree, "diff", "HEAD~3");
    } catch {
      // The drivers are stand-ins: what they print is no diff git accepts.
    }
    expect(ran()).toContain("external-diff");
    rmSync(marks, { recursive: true });
    mkdirSync(marks);
  });

  it("merge refuses a checkout with changes, takes the first bottle cleanly, and stops on the second's conflict as git does", async () => {
    writeFileSync(join(project.dir, "README"), "changed by the user\n");
    const dirty = await cli.run(["merge", "--rm", bottles.alpha]);
    expect(dirty.code).toBe(2);
    expect(dirty.stderr).toContain(`Your checkout ${project.dir} has changes of its own`);
    hostGit(project.dir, "checkout", "README");

    const first = await cli.run(["merge", "--rm", bottles.alpha]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`^Saved 1 uncommitted change of ${bottles.alpha} as commit [0-9a-f]+ on branch alpha\\.\\n`));
    expect(first.stdout).toContain(`Merged alpha (4 commits of ${bottles.alpha}) into main.\n`);
    expect(first.stdout).toContain(`Removed ${bottles.alpha} and its worktree.\nThe branch alpha stays`);
    expect(readFileSync(join(project.dir, "shared.txt"), "utf8")).toBe("ONE\ntwo\nthree\n");
    expect(readFileSync(join(project.dir, "alpha-new.txt"), "utf8")).toBe("new\n");
    // main had not moved since alpha started: git fast-forwards, as it would for the user.
    expect(userGit("rev-parse", "HEAD")).toBe(userGit("rev-parse", "alpha"));
    expect(userGit("log", "-1", "--format=%s").trim()).toBe(`claude-bottle: uncommitted changes of ${bottles.alpha}, saved by merge`);
    expect(userGit("branch", "--list", "alpha").trim()).toBe("alpha");
    expect((await cli.ls()).map((b) => b.name)).not.toContain(bottles.alpha);

    const second = await cli.run(["merge", "--rm", bottles.beta]);
    expect(second.code).toBe(1);
    expect(second.stdout).toContain("CONFLICT");
    expect(second.stdout).toContain(`The merge of beta into main stopped on a conflict in ${project.dir} (.gitattributes, shared.txt).`);
    expect(second.stdout).toContain("Resolve it, then git add <files>, then git merge --continue; or give up with: git merge --abort");
    // git's own state: its MERGE_HEAD, the file unmerged; the bottle is kept, whatever --rm said.
    expect(userGit("rev-parse", "MERGE_HEAD").trim()).toBe(userGit("rev-parse", "beta").trim());
    expect(userGit("diff", "--name-only", "--diff-filter=U")).toBe(".gitattributes\nshared.txt\n");
    expect((await cli.ls()).map((b) => b.name)).toContain(bottles.beta);
    userGit("merge", "--abort");

    const replayed = await cli.run(["merge", "--rebase", "--keep", bottles.beta]);
    expect(replayed.code).toBe(1);
    expect(replayed.stdout).toContain("git cherry-pick --continue; or give up with: git cherry-pick --abort");
    expect(existsSync(join(project.dir, ".git", "CHERRY_PICK_HEAD"))).toBe(true);
    userGit("cherry-pick", "--abort");
    expect(userGit("status", "--porcelain")).toBe("");
    expect(ran()).toEqual([]);
  });

  it("--squash makes one commit and --delete-branch deletes the branch; --rebase replays the commits and --keep keeps the bottle", async () => {
    const before = userGit("rev-parse", "HEAD").trim();
    const squashed = await cli.run(["merge", "--squash", "--delete-branch", bottles.gamma]);
    expect(squashed.code, squashed.stderr).toBe(0);
    expect(squashed.stdout).toContain(`Merged gamma (2 commits of ${bottles.gamma}) into main (squashed).\n`);
    expect(squashed.stdout).toMatch(/Deleted the branch gamma \(was [0-9a-f]{12}\)\./);
    expect(userGit("rev-list", "--parents", "-1", "HEAD").trim().split(" ")).toEqual([expect.any(String), before]);
    expect(readFileSync(join(project.dir, "gamma.txt"), "utf8")).toBe("g1\ng2\n");
    expect(userGit("branch", "--list", "gamma")).toBe("");

    const deltaTip = hostGit((await cli.bottle(bottles.delta))!.worktree!.path, "rev-parse", "HEAD").trim();
    const rebased = await cli.run(["merge", "--rebase", "--keep", bottles.delta]);
    expect(rebased.code, rebased.stderr).toBe(0);
    expect(userGit("log", "--format=%s", "-2")).toBe("delta 2\ndelta 1\n");
    expect(userGit("rev-list", "--merges", "--count", "HEAD~2..HEAD").trim()).toBe("0");
    // The bottle's branch is as it made it: its commits were replayed, not moved.
    expect(userGit("rev-parse", "delta").trim()).toBe(deltaTip);
    expect(() => userGit("merge-base", "--is-ancestor", "delta", "HEAD")).toThrow();
    expect(rebased.stdout).toContain(`The bottle ${bottles.delta} and its worktree stay; remove them with: claude-bottle rm ${bottles.delta}\n`);
    expect((await cli.ls()).map((b) => b.name)).toContain(bottles.delta);
    expect(ran()).toEqual([]);
  });
});
