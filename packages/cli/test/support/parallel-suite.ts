import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { attempt, busyboxGitContext } from "@claude-bottle/test-support";
import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docker, requireDocker } from "./docker.js";
import { cliFor, hookCommands, hostGit, initRepository, type ListedBottle } from "./parallel.js";
import { createProject, type TestProject } from "./project.js";
import { CLI_BIN, waitFor } from "./run-cli.js";
import { TmuxSession } from "./tmux.js";

export interface ParallelSuiteOptions {
  backend: "docker" | "smolmachines";
  /** Added to the suite's name (the smolvm release the double imitates). */
  title?: string;
  /** What the backend needs in the CLI's environment (the smolvm double, its registry image...). */
  env?: (project: TestProject) => Record<string, string>;
  /** smolvm shares directories only: single files the host obeys are put back when the bottle ends instead of refused. */
  filesReadOnly: boolean;
  /** Whether a bottle whose attached CLI was killed stays listed (a container does; an ephemeral microVM run is no machine). */
  attachedListed: boolean;
  /** Checks that a worktree bottle keeps the project's home (where the backend keeps one per project). */
  checkHome?: (bottle: string, project: string) => void;
  /** Throws when what the backend's tests need is missing (they fail, never skip). */
  require?: () => void;
  /** Ends what an attached run left when its CLI was killed, if the backend does not list it. */
  killOrphans?: (marker: string) => void;
}

/**
 * Many agents at once on a backend (issue 13): each in a worktree of
 * its own on its own branch, nothing lost however it ends, and a status per
 * bottle that `ls` and `wait` read.
 */
export function describeParallelAgents(options: ParallelSuiteOptions): void {
  describe(`many agents at once (${options.backend}${options.title ? `, ${options.title}` : ""})`, () => {
    let project: TestProject;
    let cli: ReturnType<typeof cliFor>;
    // An agent of this run's own, so its images can be removed at the end and no other run's bottles count.
    const slug = `par-${randomBytes(3).toString("hex")}`;
    const backendArgs = ["--backend", options.backend];
    // A branch in the repository, or HEAD in a worktree: a bottle commits on its detached HEAD, and the host moves the branch there once it is gone.
    const commits = (rev: string, cwd = project.dir) => hostGit(cwd, "log", "--format=%an <%ae>|%s", `main..${rev}`).trim().split("\n").filter(Boolean);

    beforeAll(() => {
      requireDocker();
      options.require?.();
      project = createProject();
      initRepository(project.dir);
      // A user-level agent (no approval needed): busybox and the host's git.
      const context = busyboxGitContext();
      project.writeUserAgent(slug, `build: { dockerfile: ${join(context, "Dockerfile")}, context: ${context} }\ncommand: [sh, -c]\nnetwork: false\n`);
      cli = cliFor(project, { CLAUDE_BOTTLE_BACKEND: options.backend, ...options.env?.(project) });
      rmContext = () => rmSync(context, { recursive: true, force: true });
    });
    let rmContext = () => {};

    afterAll(async () => {
      for (const bottle of await cli.ls().catch(() => [])) await cli.run(["rm", "--force", bottle.name]);
      // Worktrees live in the project's own data home: all of it goes, and the agent's images.
      rmSync(dirname(project.dir), { recursive: true, force: true });
      rmContext();
      for (const image of docker("images", "--format", "{{.Repository}}:{{.Tag}}", `claude-bottle/${slug}`).split("\n").filter(Boolean)) {
        // By tag: untagged only, when another test's tag names the same image.
        try {
          docker("rmi", image);
        } catch {
          // Still in use by something else: left to it.
        }
      }
      for (const volume of docker("volume", "ls", "--quiet", "--filter", `name=claude-bottle-home-${slug}-`).split("\n").filter(Boolean)) docker("volume", "rm", volume);
      // A rebuild leaves the agent's earlier image untagged: it goes too.
      for (const image of docker("images", "-q", "--filter", "dangling=true", "--filter", `label=dev.claude-bottle.agent=${slug}`).split("\n").filter(Boolean)) {
        try {
          docker("rmi", image);
        } catch {
          // In use, or gone already.
        }
      }
    });

    it("two worktree bottles commit at the same time, each for its branch, as the user; hooks, config and git pointers stay read-only", async () => {
      const script = (label: string) =>
        [
          "cd /workspace",
          "gd=$(sed -n 's/^gitdir: //p' .git); cd_=$(cd \"$gd\" && cd \"$(cat commondir)\" && pwd)",
          `i=1; while [ $i -le 15 ]; do echo $i > ${label}.txt; git add ${label}.txt && git commit -q -m "${label} $i" || echo "commit failed"; i=$((i+1)); done`,
          attempt("hook", 'echo "echo evil" > "$cd_/hooks/pre-commit"'),
          // The repository's config lies in its git directory, shared read-only on every backend.
          attempt("config", "echo '[core] fsmonitor = evil' >> \"$cd_/config\""),
          attempt("worktree config", "echo '[core] fsmonitor = evil' >> \"$gd/config.worktree\""),
          attempt("commondir", 'echo /tmp > "$gd/commondir"'),
          "git status --short | wc -l | sed 's/^ */changes: /'",
          attempt("dot git", "echo 'gitdir: /tmp' > /workspace/.git"),
          "echo finished",
          "exec sleep 600",
        ].join("\n");
      const [a, b] = await Promise.all([cli.detach(["--worktree", slug, "--", script("alpha")]), cli.detach(["--worktree", "feature-b", slug, "--", script("beta")])]);
      const [logsA, logsB] = await Promise.all([cli.logsUntil(a, "finished"), cli.logsUntil(b, "finished")]);
      for (const [label, logs] of [["alpha", logsA], ["beta", logsB]] as const) {
        expect(logs).not.toContain("commit failed");
        // The hooks are a directory, read-only on every backend; single files are read-only where the backend can lay them so.
        const file = options.filesReadOnly ? "refused" : "written";
        expect(logs).toContain(`hook: refused\nconfig: refused\nworktree config: ${file}\ncommondir: ${file}\n`);
        expect(logs).toContain(`dot git: ${file}\n`);
      }
      expect(logsA).toContain("changes: 0\n");

      expect(existsSync(join(project.dir, ".git", "hooks", "pre-commit"))).toBe(false);

      const listed = await cli.ls();
      const bottleA = listed.find((x) => x.name === a)!;
      const bottleB = listed.find((x) => x.name === b)!;
      expect(bottleA.worktree).toEqual({ path: expect.stringMatching(new RegExp(`^${join(project.dataHome, "claude-bottle", "worktrees")}/project-[0-9a-f]{8}/${a}$`)), branch: a, repository: project.dir });
      expect(bottleA.workspace).toBe(bottleA.worktree!.path);
      options.checkHome?.(a, project.dir);
      expect(bottleB.worktree).toMatchObject({ branch: "feature-b", repository: project.dir });
      // (On smolvm the bottle's .git file is its own until it ends, when it is put back.)
      if (options.filesReadOnly) {
        expect(hostGit(bottleA.worktree!.path, "rev-parse", "--abbrev-ref", "HEAD").trim()).toBe("HEAD");
        expect(commits("HEAD", bottleA.worktree!.path)).toEqual(Array.from({ length: 15 }, (_, i) => `Host User <host@example.com>|alpha ${15 - i}`));
        expect(commits("HEAD", bottleB.worktree!.path)).toEqual(Array.from({ length: 15 }, (_, i) => `Host User <host@example.com>|beta ${15 - i}`));
      }
      // Running, they have moved no branch.
      expect(commits(a)).toEqual([]);

      // Clean worktrees: rm removes the checkout, keeps the branch, says how to merge it.
      for (const bottle of [bottleA, bottleB]) {
        const removed = await cli.run(["rm", "--force", bottle.name]);
        expect(removed.code, removed.stderr).toBe(0);
        const merge = `The work of ${bottle.name} is on branch ${bottle.worktree!.branch}. Merge it with: git -C ${project.dir} merge ${bottle.worktree!.branch}\n`;
        if (options.filesReadOnly) {
          expect(removed.stdout).toBe(merge);
        } else {
          // The .git file the bottle rewrote was put back when it ended, its version kept beside it for the user: a change, saved.
          expect(removed.stdout).toMatch(new RegExp(`^Saved 1 uncommitted change of ${bottle.name} as commit [0-9a-f]+ on branch ${bottle.worktree!.branch}\\.\\n`));
          expect(removed.stdout).toContain(merge);
          expect(hostGit(project.dir, "show", `${bottle.worktree!.branch}:.git.changed-in-bottle`)).toBe("gitdir: /tmp\n");
        }
        expect(existsSync(bottle.worktree!.path)).toBe(false);
      }
      // Whatever the bottles wrote to the files git obeys is not there once they are gone.
      expect(readFileSync(join(project.dir, ".git", "config"), "utf8")).not.toContain("fsmonitor");
      expect(existsSync(join(project.dir, ".git", "worktrees")) ? readdirSync(join(project.dir, ".git", "worktrees")) : []).toEqual([]);
      // Gone, their commits are on their branches.
      expect(commits(a).slice(-15)).toEqual(Array.from({ length: 15 }, (_, i) => `Host User <host@example.com>|alpha ${15 - i}`));
      expect(commits("feature-b").slice(-15)).toEqual(Array.from({ length: 15 }, (_, i) => `Host User <host@example.com>|beta ${15 - i}`));
      expect(commits(a)).toHaveLength(options.filesReadOnly ? 15 : 16);
      expect(commits("feature-b")).toHaveLength(options.filesReadOnly ? 15 : 16);
      hostGit(project.dir, "merge", "-q", "--no-edit", "feature-b");
      expect(readFileSync(join(project.dir, "beta.txt"), "utf8")).toBe("15\n");
    });

    it("after SIGKILL of the CLI the commits and the uncommitted changes are there; rm refuses, then --force saves them first", async () => {
      // sleep adds up its operands: a second one marks this bottle's process, for a backend that leaves it running unlisted.
      const marker = String(1000 + Math.floor(Math.random() * 8000));
      const started = cli.start([
        "start",
        "--worktree",
        "killed-branch",
        slug,
        "--",
        `cd /workspace && echo one > one.txt && git add one.txt && git commit -q -m one && echo dirty > dirty.txt && echo edited >> README && echo ready && exec sleep 600 ${marker}`,
      ]);
      await waitFor("the agent to commit", () => started.stdout().includes("ready"), 120_000);
      started.child.kill("SIGKILL");
      // Its exit, not the end of its output: a bottle still running may hold the pipes.
      if (started.child.exitCode === null && started.child.signalCode === null) await new Promise((resolve) => started.child.once("exit", resolve));

      // Listed either way: a container goes on running; an ephemeral microVM run is no machine, and is shown as removed, its work still to settle.
      if (!options.attachedListed) options.killOrphans?.(marker);
      const bottle = (await cli.ls()).find((x) => x.worktree?.branch === "killed-branch")!;
      expect(bottle).toMatchObject({ state: options.attachedListed ? "running" : "removed", worktree: { branch: "killed-branch", repository: project.dir } });
      expect(bottle.workspace).toBe(bottle.worktree!.path);
      const worktree = bottle.worktree!.path;
      expect(commits("HEAD", worktree)).toEqual(["Host User <host@example.com>|one"]);
      expect(commits("killed-branch")).toEqual([]);
      expect(readFileSync(join(worktree, "dirty.txt"), "utf8")).toBe("dirty\n");
      expect(hostGit(worktree, "status", "--porcelain")).toBe(" M README\n?? dirty.txt\n");

      const refused = await cli.run(["rm", bottle.name]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(`claude-bottle: ${bottle.name} has 2 uncommitted changes in its worktree ${worktree}.`);
      expect(refused.stderr).toContain("rm --force to save them as a commit on the branch killed-branch first");
      expect(existsSync(worktree)).toBe(true);

      const forced = await cli.run(["rm", "--force", bottle.name]);
      expect(forced.code, forced.stderr).toBe(0);
      expect(forced.stdout).toMatch(new RegExp(`^Saved 2 uncommitted changes of ${bottle.name} as commit [0-9a-f]+ on branch killed-branch\\.\\n`));
      expect(forced.stdout).toContain(`Merge it with: git -C ${project.dir} merge killed-branch`);
      expect(commits("killed-branch")).toEqual([
        `Host User <host@example.com>|claude-bottle: uncommitted changes of ${bottle.name}, saved by rm --force`,
        "Host User <host@example.com>|one",
      ]);
      expect(hostGit(project.dir, "show", "killed-branch:dirty.txt")).toBe("dirty\n");
      expect(existsSync(worktree)).toBe(false);
      expect((await cli.ls()).map((x) => x.name)).not.toContain(bottle.name);
    });

    it("Claude Code's hooks move the status working → waiting → working → done, seen in ls and ended by wait; one bottle's status never shows on another", async () => {
      const [a, b] = await Promise.all([cli.detach([slug, "--", "exec sleep 600"]), cli.detach([slug, "--", "exec sleep 600"])]);
      const status = async (name: string) => (await cli.bottle(name))?.status.state;
      expect(await status(a)).toBe("running");

      // The settings the bottle was given, read-only, as Claude Code would read them with --settings.
      const settings = await cli.exec(a, "cat /claude-bottle/hooks/claude-code-settings.json");
      expect(settings.code).toBe(0);
      expect((await cli.exec(a, "echo '{}' > /claude-bottle/hooks/claude-code-settings.json")).code).not.toBe(0);
      const fire = async (event: string, matcher?: string) => {
        const commands = hookCommands(settings.stdout, event, matcher);
        expect(commands.length, `hooks for ${event}`).toBeGreaterThan(0);
        for (const command of commands) {
          const fired = await cli.exec(a, command, JSON.stringify({ hook_event_name: event }));
          expect(fired.code, `${command}: ${fired.stderr}`).toBe(0);
        }
      };

      await fire("UserPromptSubmit");
      expect(await status(a)).toBe("working");
      const waiting = cli.start(["wait", a, "--for", "waiting"]);
      await fire("PreToolUse", "Bash");
      await fire("Notification", "permission_prompt");
      const listed = (await cli.bottle(a))!;
      expect(listed.status.state).toBe("waiting");
      expect(Date.now() - Date.parse(listed.status.since!)).toBeLessThan(60_000);
      expect(await waiting.result).toMatchObject({ code: 0, stdout: "waiting\n" });

      await fire("PostToolUse", "Bash");
      expect(await status(a)).toBe("working");
      const done = cli.start(["wait", a, "--for", "done", "--json"]);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(done.child.exitCode).toBeNull();
      await fire("Stop");
      const ended = await done.result;
      expect(ended.code).toBe(0);
      expect(JSON.parse(ended.stdout)).toMatchObject({ name: a, status: { state: "done" }, reached: true });

      // The other bottle saw none of it: its own empty status directory, and no status of its own.
      expect(await status(b)).toBe("running");
      expect((await cli.exec(b, "ls -A /claude-bottle/status")).stdout).toBe("");
      expect((await cli.exec(a, "ls -A /claude-bottle/status")).stdout).toBe("state\n");
      const timedOut = await cli.run(["wait", b, "--timeout", "1"]);
      expect(timedOut).toMatchObject({ code: 124, stdout: "running\n" });

      // A status file that is not one (a FIFO, a link, garbage) is not read: ls neither hangs nor believes it.
      for (const hostile of ["rm -f /claude-bottle/status/state && mkfifo /claude-bottle/status/state", "rm -f /claude-bottle/status/state && ln -s /etc/passwd /claude-bottle/status/state", "rm -f /claude-bottle/status/state && echo root:x:0:0 > /claude-bottle/status/state"]) {
        const written = await cli.exec(a, hostile);
        expect(written.code, `${hostile}: ${written.stderr}`).toBe(0);
        expect(await status(a)).toBe("running");
      }

      // Stopped: exited, and wait returns at once (done), but never for waiting.
      expect((await cli.run(["stop", b])).code).toBe(0);
      expect(await status(b)).toBe("exited");
      expect(await cli.run(["wait", b])).toMatchObject({ code: 0, stdout: "exited\n" });
      expect(await cli.run(["wait", b, "--for", "waiting"])).toMatchObject({ code: 1, stdout: "exited\n" });
      for (const name of [a, b]) expect((await cli.run(["rm", "--force", name])).code).toBe(0);
      expect(existsSync(join(project.dataHome, "claude-bottle", "bottles", options.backend, a))).toBe(false);
    });

    it("ls in a terminal shows two running bottles with their status and branch", async () => {
      const [a, b] = await Promise.all([cli.detach(["--worktree", slug, "--", "exec sleep 600"]), cli.detach([slug, "--", "exec sleep 600"])]);
      const settings = await cli.exec(a, "cat /claude-bottle/hooks/claude-code-settings.json");
      for (const command of hookCommands(settings.stdout, "Notification", "permission_prompt")) await cli.exec(a, command);
      const script = join(project.dir, "..", "ls-in-terminal.sh");
      writeFileSync(script, [`cd ${project.dir}`, "unset CI", ...Object.entries(cli.env).map(([k, v]) => `export ${k}=${v}`), `${process.execPath} ${CLI_BIN} ls`, "exec sleep 600"].join("\n"));
      // Wide enough for the bottles other test files run on the same engine meanwhile.
      const terminal = new TmuxSession(`sh ${script}`, { columns: 600, rows: 60 });
      try {
        const screen = await terminal.waitForScreen("ls to print both bottles", (s) => s.includes(a) && s.includes(b));
        expect(screen).toMatch(/NAME\s+AGENT\s+BACKEND\s+ISOLATION\s+STATE\s+STATUS\s+CREATED\s+BRANCH\s+PORTS\s+WORKSPACE/);
        expect(screen).toMatch(new RegExp(`${a}\\s+${slug}\\s+${options.backend}\\s+\\S+\\s+running\\s+waiting \\((?:just now|\\d+ seconds? ago)\\)\\s+\\S.*\\s+${a}\\s+-\\s+\\S+`));
        expect(screen).toMatch(new RegExp(`${b}\\s+${slug}\\s+${options.backend}\\s+\\S+\\s+running\\s+running \\(.*\\)\\s+.*\\s+-\\s+${project.dir}`));
      } finally {
        terminal.kill();
        for (const name of [a, b]) await cli.run(["rm", "--force", name]);
      }
    });
  });
}
