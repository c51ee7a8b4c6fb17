import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { createProject, type TestProject } from "./support/project.js";
import { CLI_BIN, runCli } from "./support/run-cli.js";

const KEY = "sk-test-faults-0123456789abcdef";

/**
 * SECURITY.md point 7 for what `login` and `trust` write (credentials.json,
 * approvals.json): SIGKILLed at any moment, each file is either as it was or
 * whole, and no temporary copy (which holds every stored credential) stays.
 */
describe("SIGKILL during login and trust", () => {
  let project: TestProject;
  const env = () => ({ ...project.env, CLAUDE_BOTTLE_BACKEND: "fake", CLAUDE_BOTTLE_CREDENTIAL_STORE: "file" });
  const stateDir = () => join(project.stateHome, "claude-bottle");
  const temporaries = () => (existsSync(stateDir()) ? readdirSync(stateDir()).filter((f) => f.endsWith(".tmp")) : []);
  const parsed = (file: string) => (existsSync(join(stateDir(), file)) ? (JSON.parse(readFileSync(join(stateDir(), file), "utf8")) as unknown) : undefined);

  beforeAll(() => {
    project = createProject();
    project.installFakeBackend();
    project.writeUserAgent("keyed", "image: example/keyed:1\ncredentials: [{ env: KEYED_TOKEN, hosts: [api.example.com] }]\n");
    for (let i = 0; i < 4; i++) project.writeAgent(`p${i}`, `image: example/p${i}:1\nnetwork: false\n`);
  });

  /** Runs the CLI and SIGKILLs it `afterMs` after it started: early ones die before any write, late ones after it. */
  async function killAfter(args: string[], afterMs: number, input?: string): Promise<void> {
    const child = spawn(process.execPath, [CLI_BIN, ...args], { cwd: project.dir, env: { ...process.env, ...env() }, stdio: ["pipe", "ignore", "ignore"] });
    if (input !== undefined) child.stdin.end(input);
    const closed = new Promise<void>((resolve) => child.on("close", () => resolve()));
    setTimeout(() => child.kill("SIGKILL"), afterMs);
    await closed;
  }

  it("login killed at any moment: the credentials file is absent or whole, and a temporary copy left is gone after the next write", async () => {
    for (const afterMs of [0, 60, 120, 180, 240, 300, 400, 600]) {
      await killAfter(["login", "keyed"], afterMs, `${KEY}\n`);
      // A kill between the write and the rename may leave this one dead writer's copy; the next write removes it.
      expect(temporaries().length).toBeLessThanOrEqual(1);
      const stored = parsed("credentials.json");
      if (stored !== undefined) expect(stored).toEqual({ KEYED_TOKEN: KEY });
    }
    // And the next login works, and leaves no temporary copy.
    expect((await runCli(["login", "keyed"], { cwd: project.dir, env: env(), input: `${KEY}\n` })).code).toBe(0);
    expect(parsed("credentials.json")).toEqual({ KEYED_TOKEN: KEY });
    expect(temporaries()).toEqual([]);
  });

  it("trust killed at any moment: the approvals file is absent or whole, and a temporary copy left is gone after the next write", async () => {
    for (const afterMs of [0, 60, 120, 180, 240, 300, 400, 600]) {
      await killAfter(["trust", "--yes"], afterMs);
      // A kill between the write and the rename may leave this one dead writer's copy; the next write removes it.
      expect(temporaries().length).toBeLessThanOrEqual(1);
      const approvals = parsed("approvals.json");
      if (approvals !== undefined) expect(approvals).toMatchObject({ version: expect.any(Number) });
    }
    expect((await runCli(["trust", "--yes"], { cwd: project.dir, env: env() })).code).toBe(0);
    expect(temporaries()).toEqual([]);
  });

  it("a temporary copy a killed writer left (its pid gone) is removed by the next write; a live writer's is not", async () => {
    // A writer SIGKILLed between its write and its rename leaves `<file>.<pid>.tmp`, holding every credential.
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout;
    const left = join(stateDir(), `credentials.json.${dead}.tmp`);
    const live = join(stateDir(), `credentials.json.${process.pid}.tmp`);
    writeFileSync(left, JSON.stringify({ KEYED_TOKEN: KEY }), { mode: 0o600 });
    writeFileSync(live, "a write in progress", { mode: 0o600 });
    const approvalsLeft = join(stateDir(), `approvals.json.${dead}.tmp`);
    writeFileSync(approvalsLeft, "{}", { mode: 0o600 });

    expect((await runCli(["login", "keyed"], { cwd: project.dir, env: env(), input: `${KEY}\n` })).code).toBe(0);
    project.writeAgent("p-new", "image: example/p-new:1\nnetwork: false\n");
    expect((await runCli(["trust", "--yes"], { cwd: project.dir, env: env() })).code).toBe(0);
    expect(temporaries()).toEqual([`credentials.json.${process.pid}.tmp`]);
    expect(existsSync(left) || existsSync(approvalsLeft)).toBe(false);
  });
});
