import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { createProject, type TestProject } from "./support/project.js";
import { runCli, startCli, waitFor } from "./support/run-cli.js";

/**
 * `start` driven through a fake third-party backend installed in the project:
 * what the CLI does with exit codes, errors, signals and progress, without Docker.
 */
describe("claude-bottle start", () => {
  let project: TestProject;
  const run = (args: string[], env: Record<string, string> = {}) =>
    runCli(args, { cwd: project.dir, env: { ...project.env, CLAUDE_BOTTLE_BACKEND: "fake", ...env } });

  beforeAll(async () => {
    project = createProject();
    project.installFakeBackend();
    project.writeAgent("bb", "image: example/bb:1\nenv: [CB_SECRET, LITERAL=yes]\n");
    // The agent file and the backend both come from the project: approved once, as a user would.
    const approved = await runCli(["--backend", "fake", "trust", "--yes"], { cwd: project.dir, env: project.env });
    expect(approved.code, approved.stderr).toBe(0);
  });

  it("exits with the agent's exit code, its stdout and stderr kept apart", async () => {
    const result = await run(["start", "bb"], { FAKE_MODE: "exit:7" });
    expect(result.code).toBe(7);
    expect(JSON.parse(result.stdout)).toEqual({ agent: "bb", extraArgs: [], env: expect.objectContaining({ CB_SECRET: "(passthrough)", LITERAL: "yes" }) });
    expect(result.stderr).toContain("fake agent stderr\n");
    expect(result.stderr).not.toContain("{");
  });

  it("gives the bottle the user's git identity, a stand-in where git has none, and leaves the agent's own alone", async () => {
    const emptyHome = mkdtempSync(join(tmpdir(), "claude-bottle-home-"));
    const envOf = (result: { stdout: string }) => (JSON.parse(result.stdout) as { env: Record<string, string> }).env;
    const none = envOf(await run(["start", "bb"], { HOME: emptyHome }));
    expect(none.GIT_AUTHOR_EMAIL).toMatch(/^[A-Za-z0-9_.-]+@claude-bottle\.invalid$/);
    expect(none.GIT_COMMITTER_NAME).toBe(none.GIT_AUTHOR_NAME);

    // The last value of a key counts, as for `git config --get`; section and key names are case-insensitive.
    writeFileSync(join(emptyHome, ".gitconfig"), "[user]\n\tname = Ada Byron\n\temail = ada@example.com\n[User]\n\tName = Ada Lovelace\n");
    const mine = envOf(await run(["start", "bb"], { HOME: emptyHome }));
    expect(mine).toMatchObject({ GIT_AUTHOR_NAME: "Ada Lovelace", GIT_AUTHOR_EMAIL: "ada@example.com", GIT_COMMITTER_NAME: "Ada Lovelace", GIT_COMMITTER_EMAIL: "ada@example.com" });

    project.writeAgent("own", "image: example/bb:1\nenv: [GIT_AUTHOR_NAME=Robot]\n");
    expect((await runCli(["--backend", "fake", "trust", "own", "--yes"], { cwd: project.dir, env: project.env })).code).toBe(0);
    const own = envOf(await run(["start", "own"], { HOME: emptyHome }));
    expect(own).toMatchObject({ GIT_AUTHOR_NAME: "Robot", GIT_COMMITTER_NAME: "Ada Lovelace" });
    rmSync(emptyHome, { recursive: true, force: true });
  });

  it("refuses, before the backend prepares anything, what the agent asks and the backend does not declare it enforces", async () => {
    project.writeAgent("narrow", "image: example/bb:1\nnetwork: { allow: [api.example.com] }\ncredentials: [{ env: CB_TOKEN, hosts: [api.example.com] }]\n");
    expect((await runCli(["--backend", "fake", "trust", "narrow", "--yes"], { cwd: project.dir, env: project.env })).code).toBe(0);
    const refused = await run(["start", "narrow"], { FAKE_ENFORCES: "network.none,egress.private", CB_TOKEN: "t" });
    expect(refused.code).toBe(125);
    expect(refused.stderr).toContain("network.allow needs a backend that enforces egress.allow; fake does not.");
    expect(refused.stderr).toContain("credentials needs a backend that enforces credentials; fake does not.");
    expect(refused.stderr).not.toContain("Checking the fake cache");
    expect(refused.stdout).toBe("");
    // What core adds by default and the backend does not keep is said, not refused: the user chose the backend.
    const defaults = await run(["start", "bb"], { FAKE_ENFORCES: "" });
    expect(defaults.code, defaults.stderr).toBe(0);
    expect(defaults.stderr).toContain("The fake backend does not keep: private addresses refused");
  });

  it("passes the arguments after -- to the agent, options included", async () => {
    const result = await run(["start", "bb", "--", "--model", "sonnet", "-p", "hi there"]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).extraArgs).toEqual(["--model", "sonnet", "-p", "hi there"]);
  });

  it("selects the backend with --backend over CLAUDE_BOTTLE_BACKEND", async () => {
    const result = await runCli(["start", "bb", "--backend", "fake"], {
      cwd: project.dir,
      env: { ...project.env, CLAUDE_BOTTLE_BACKEND: "nonexistent" },
    });
    expect(result.code).toBe(0);
  });

  it("reports phases as plain lines on stderr when it is not a terminal, and nothing on stdout", async () => {
    const result = await run(["start", "bb"]);
    expect(result.stderr).toContain("claude-bottle: Loading the fake backend...\n");
    expect(result.stderr).toContain('claude-bottle: Resolving the agent "bb"...\n');
    expect(result.stderr).toContain("claude-bottle: Building the fake image...\n");
    expect(result.stderr).not.toContain("fake build output line");
    expect(result.stdout.split("\n").filter(Boolean)).toHaveLength(1);
  });

  it("shows the build output with --debug", async () => {
    const result = await run(["--debug", "start", "bb"]);
    expect(result.stderr).toContain("  | fake build output line\n");
  });

  it("prints the bottle's name and nothing else on stdout with --detach", async () => {
    const result = await run(["start", "--detach", "bb"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^claude-bottle-bb-[0-9a-f]{6}\n$/);
  });

  describe("errors", () => {
    it("a BottleError from another copy of core is one line and its hint, no stack", async () => {
      const result = await run(["start", "bb"], { FAKE_MODE: "bottle-error" });
      expect(result.code).toBe(125);
      const lines = result.stderr.split("\n");
      const at = lines.indexOf("claude-bottle: The fake bottle failed on purpose.");
      expect(at).toBeGreaterThan(-1);
      expect(lines.slice(at)).toEqual([
        "claude-bottle: The fake bottle failed on purpose.",
        "  hint: Set FAKE_MODE to something else.",
        "",
      ]);
      expect(result.stderr).not.toContain("    at ");
    });

    it("--debug adds the stack", async () => {
      const result = await run(["start", "bb", "--debug"], { FAKE_MODE: "bottle-error" });
      expect(result.code).toBe(125);
      expect(result.stderr).toContain("  hint: Set FAKE_MODE to something else.\n");
      expect(result.stderr).toMatch(/\n {4}at .*backend-fake/);
    });

    it("anything else from a third-party backend is its bug: the stack always, its package, and its bugs URL", async () => {
      const result = await run(["start", "bb"], { FAKE_MODE: "internal-error" });
      expect(result.code).toBe(125);
      expect(result.stderr).toContain("claude-bottle: the fake backend (claude-bottle-backend-fake 1.0.0) failed: fake internal kaboom\n");
      expect(result.stderr).toContain("TypeError: fake internal kaboom\n    at ");
      expect(result.stderr).toContain("please report it at https://example.test/fake-backend/issues");
      expect(result.stderr).not.toContain("github.com");
    });

    it("a launch that returns no exit code is the backend's fault, not a silent exit 0", async () => {
      const result = await run(["start", "bb"], { FAKE_MODE: "no-exit-code" });
      expect(result.code).toBe(125);
      expect(result.stderr).toContain("claude-bottle: The fake backend's launch returned {\"detached\":false,\"name\":\"claude-bottle-bb-fake01\"}: no exit code");
    });

    it("an agent name that is not a slug is a usage error", async () => {
      const result = await run(["start", "Not_A_Slug"]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('claude-bottle: "Not_A_Slug" is not a valid agent name.\n  hint: ');
    });

    it("an invalid agent file names the file and the field", async () => {
      const file = project.writeAgent("bad", "image: example/bad:1\nresources: { memory: lots }\n");
      const result = await run(["start", "bad"]);
      expect(result.code).toBe(125);
      expect(result.stderr).toContain(`claude-bottle: ${file}: field "resources.memory"`);
    });

    it("an unknown backend names the built-ins and how to install one", async () => {
      const result = await run(["start", "bb", "--backend", "nosuch"]);
      expect(result.code).toBe(125);
      expect(result.stderr).toContain('claude-bottle: No backend named "nosuch" could be found.');
      expect(result.stderr).toContain("npm i -D @claude-bottle/backend-nosuch");
    });
  });

  describe("--timing", () => {
    it("prints a table of phase durations on stderr after the agent exits", async () => {
      const result = await run(["start", "--timing", "bb"], { FAKE_MODE: "exit:4" });
      expect(result.code).toBe(4);
      const table = result.stderr.slice(result.stderr.indexOf("PHASE"));
      const rows = table.trimEnd().split("\n");
      expect(rows[0]).toMatch(/^PHASE\s+TIME\s+WHAT$/);
      const names = rows.slice(1).map((row) => row.trim().split(/\s{2,}/)[0]);
      expect(names).toEqual(["agent-resolve", "backend-load", "prepare", "cache-check", "build", "start", "ready after", "total"]);
      for (const row of rows.slice(1)) expect(row).toMatch(/\d+(\.\d)? (ms|s)\b/);
      expect(rows.find((r) => r.includes("cache-check"))).toMatch(/^  cache-check/);
      expect(result.stdout).not.toContain("PHASE");
    });

    it("=json prints the same as one JSON document on stderr", async () => {
      const result = await run(["start", "--timing=json", "bb"]);
      expect(result.code).toBe(0);
      const json = JSON.parse(result.stderr.trimEnd().split("\n").at(-1)!);
      expect(json.phases.map((p: { phase: string }) => p.phase)).toEqual([
        "agent-resolve",
        "backend-load",
        "prepare",
        "cache-check",
        "build",
        "start",
      ]);
      for (const phase of json.phases) {
        expect(phase).toEqual({
          phase: expect.any(String),
          title: expect.any(String),
          depth: expect.any(Number),
          startMs: expect.any(Number),
          durationMs: expect.any(Number),
          ok: true,
        });
      }
      expect(json.phases.find((p: { phase: string }) => p.phase === "cache-check").depth).toBe(1);
      expect(json.readyMs).toBeGreaterThan(0);
      expect(json.totalMs).toBeGreaterThanOrEqual(json.readyMs);
    });

    it("is printed at detach, and on a failure with the failed phase marked", async () => {
      const detached = await run(["start", "--detach", "--timing", "bb"]);
      expect(detached.stdout).toMatch(/^claude-bottle-bb-[0-9a-f]{6}\n$/);
      expect(detached.stderr).toMatch(/^start\s/m);
      const failed = await run(["start", "--timing=json", "bb"], { FAKE_MODE: "bottle-error" });
      const json = JSON.parse(failed.stderr.split("\n").find((line) => line.startsWith("{"))!);
      expect(json.phases.at(-1)).toMatchObject({ phase: "build", ok: true });
      expect(failed.stderr).toContain("claude-bottle: The fake bottle failed on purpose.");
    });

    it("prints nothing extra without the flag", async () => {
      const result = await run(["start", "bb"]);
      expect(result.stderr).not.toContain("PHASE");
      expect(result.stderr).not.toContain("total");
    });
  });

  it("on SIGINT aborts the backend's work, lets it clean up and exits 130 quietly", async () => {
    const cleanupFile = join(project.dir, "cleanup-marker");
    const cli = startCli(["start", "bb"], {
      cwd: project.dir,
      env: { ...project.env, CLAUDE_BOTTLE_BACKEND: "fake", FAKE_MODE: "wait-abort", FAKE_CLEANUP_FILE: cleanupFile },
    });
    await waitFor("the agent to wait", () => cli.stdout().includes("waiting for the signal"));
    cli.child.kill("SIGINT");
    const result = await cli.result;
    expect(result.code).toBe(130);
    expect(existsSync(cleanupFile) && readFileSync(cleanupFile, "utf8")).toBe("cleaned up");
    expect(result.stderr).not.toContain("Interrupted");
    expect(result.stderr).not.toContain("internal error");
  });

  it("exits 130 on SIGTERM too", async () => {
    const cleanupFile = join(project.dir, "cleanup-marker-term");
    const cli = startCli(["start", "bb"], {
      cwd: project.dir,
      env: { ...project.env, CLAUDE_BOTTLE_BACKEND: "fake", FAKE_MODE: "wait-abort", FAKE_CLEANUP_FILE: cleanupFile },
    });
    await waitFor("the agent to wait", () => cli.stdout().includes("waiting for the signal"));
    cli.child.kill("SIGTERM");
    expect((await cli.result).code).toBe(130);
    expect(existsSync(cleanupFile)).toBe(true);
  });
});
