import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import type { TestProject } from "./project.js";
import { runCli, startCli, waitFor, type CliResult } from "./run-cli.js";

/** Git on the host, as the user runs it in the project. */
export const hostGit = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

/** A repository with one commit and the user's identity in its config (what the bottles must commit as). */
export function initRepository(dir: string): void {
  hostGit(dir, "init", "-q", "-b", "main");
  hostGit(dir, "config", "user.name", "Host User");
  hostGit(dir, "config", "user.email", "host@example.com");
  writeFileSync(join(dir, "README"), "hello\n");
  hostGit(dir, "add", "README");
  hostGit(dir, "commit", "-q", "-m", "initial");
}

export interface ListedBottle {
  name: string;
  state: string;
  workspace: string;
  status: { state: string; since?: string };
  worktree?: { path: string; branch: string; repository: string };
}

/** The CLI against one project and backend. */
export function cliFor(project: TestProject, env: Record<string, string> = {}) {
  const run = (args: string[]): Promise<CliResult> => runCli(args, { cwd: project.dir, env: { ...project.env, ...env } });
  const start = (args: string[]) => startCli(args, { cwd: project.dir, env: { ...project.env, ...env } });
  const ls = async (): Promise<ListedBottle[]> => {
    const result = await run(["ls", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as ListedBottle[];
  };
  const bottle = async (name: string) => (await ls()).find((b) => b.name === name);
  const detach = async (args: string[]): Promise<string> => {
    const result = await run(["start", "--detach", ...args]);
    expect(result.code, result.stderr).toBe(0);
    return result.stdout.trim();
  };
  /** Runs a command in a bottle through `exec`, as Claude Code runs a hook command in it. */
  const exec = (name: string, script: string, input?: string) =>
    runCli(["exec", name, "--", "sh", "-c", script], { cwd: project.dir, env: { ...project.env, ...env }, input });
  const logsUntil = (name: string, text: string, deadlineMs = 120_000) =>
    waitFor(`"${text}" in the output of ${name}`, async () => {
      const result = await run(["logs", name]);
      return result.stdout.includes(text) && result.stdout;
    }, deadlineMs);
  return { run, start, ls, bottle, detach, exec, logsUntil, env: { ...project.env, ...env } };
}

/** Claude Code's hook commands for an event, from the settings the bottle was given (what Claude Code reads with --settings). */
export function hookCommands(settings: string, event: string, matcher?: string): string[] {
  const parsed = JSON.parse(settings) as { hooks: Record<string, { matcher?: string; hooks: { command: string }[] }[]> };
  return (parsed.hooks[event] ?? [])
    .filter((group) => matcher === undefined || group.matcher === undefined || group.matcher === "*" || new RegExp(`^(?:${group.matcher})$`).test(matcher))
    .flatMap((group) => group.hooks.map((hook) => hook.command));
}
