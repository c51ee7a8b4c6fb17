import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { runCli } from "./support/run-cli.js";

const version = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
const cwd = tmpdir();
const COMMANDS = ["start", "agents", "backends", "doctor", "ls", "wait", "stop", "rm", "logs", "attach", "exec", "shell"];

describe("the command line", () => {
  it.each(["--version", "-V"])("%s prints the package version and nothing else", async (flag) => {
    const result = await runCli([flag], { cwd });
    expect(result).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
  });

  it("--help lists every command, the exit codes and the environment variables", async () => {
    const result = await runCli(["--help"], { cwd });
    expect(result.code).toBe(0);
    for (const command of COMMANDS) expect(result.stdout).toMatch(new RegExp(`^  ${command}\\b`, "m"));
    expect(result.stdout).toContain("130");
    expect(result.stdout).toContain("CLAUDE_BOTTLE_BACKEND");
  });

  it.each(COMMANDS)("%s --help answers with its usage", async (command) => {
    const result = await runCli([command, "--help"], { cwd });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Usage: claude-bottle ${command}`);
    expect(result.stderr).toBe("");
  });

  it("start --help documents --detach and --timing", async () => {
    const { stdout } = await runCli(["start", "--help"], { cwd });
    expect(stdout).toContain("--detach");
    expect(stdout).toContain("--timing");
    expect(stdout).toContain("--worktree [branch]");
    expect(stdout).toContain("<agent> [-- args...]");
  });

  it("no command is a usage error", async () => {
    const result = await runCli([], { cwd });
    expect(result.code).toBe(2);
  });

  it("an unknown command is a usage error in one line plus a hint", async () => {
    const result = await runCli(["bogus"], { cwd });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^claude-bottle: unknown command 'bogus'/);
    expect(result.stderr).toContain('  hint: run "claude-bottle --help" for usage.');
  });

  it("an unknown option is a usage error naming the command's help", async () => {
    const result = await runCli(["ls", "--nope"], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`claude-bottle: unknown option '--nope'\n  hint: run "claude-bottle ls --help" for usage.\n`);
  });

  it("a missing argument is a usage error", async () => {
    const result = await runCli(["start"], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^claude-bottle: missing required argument 'agent'\n  hint: /);
  });

  it("rm without a bottle (and without --home) says what is missing, as commander's own errors do", async () => {
    const result = await runCli(["rm"], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^claude-bottle: missing required argument 'bottle' \(or --home\)\n  hint: run "claude-bottle rm --help"/);
  });

  it("an invalid --timing format is a usage error", async () => {
    const result = await runCli(["start", "--timing=yaml", "claude"], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("yaml");
  });
});
