import { mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { createProject, type TestProject } from "./support/project.js";
import { runCli } from "./support/run-cli.js";

const KEY = "sk-test-login-0123456789abcdef";

/** `login` and `logout` with the file store, through the fake backend (no engine needed). */
describe("login and logout", () => {
  let project: TestProject;
  let second: string;
  const env = () => ({ ...project.env, CLAUDE_BOTTLE_BACKEND: "fake", CLAUDE_BOTTLE_CREDENTIAL_STORE: "file" });
  const run = (args: string[], cwd = project.dir, input?: string) => runCli(args, { cwd, env: env(), input });

  beforeAll(async () => {
    project = createProject();
    project.installFakeBackend();
    second = join(project.dir, "second");
    mkdirSync(second);
    project.writeUserAgent("keyed", "image: example/keyed:1\ncredentials: [{ env: KEYED_TOKEN, hosts: [api.example.com] }]\n");
    expect((await run(["trust", "--yes"])).code).toBe(0);
  });

  it("stores once for every project, and start fails with a hint naming login after logout", async () => {
    const before = await run(["start", "keyed"]);
    expect(before.code).toBe(125);
    expect(before.stderr).toContain("needs KEYED_TOKEN, which is neither set here nor stored");
    expect(before.stderr).toContain("claude-bottle login keyed");

    const login = await run(["login", "keyed"], project.dir, `${KEY}\n`);
    expect(login.code).toBe(0);
    expect(login.stdout).toContain("Stored KEYED_TOKEN in");
    const file = join(project.stateHome, "claude-bottle", "credentials.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ KEYED_TOKEN: KEY });

    for (const dir of [project.dir, second]) {
      const started = await run(["start", "keyed"], dir);
      expect(started.code).toBe(0);
      expect(started.stdout + started.stderr).not.toContain(KEY);
    }

    const logout = await run(["logout", "keyed"]);
    expect(logout.stdout).toBe(`Removed KEYED_TOKEN from ${file} (readable by you only).\n`);
    const after = await run(["start", "keyed"], second);
    expect(after.code).toBe(125);
    expect(after.stderr).toContain("claude-bottle login keyed");
  });

  it("never hands a stored credential to a name a user's agent passes through with env:, and refuses a project agent that names one", async () => {
    expect((await run(["login", "keyed"], project.dir, `${KEY}\n`)).code).toBe(0);
    expect((await run(["login", "--api-key"], project.dir, `${KEY}\n`)).code).toBe(0);
    project.writeUserAgent("leaky", "image: example/leaky:1\nenv: [KEYED_TOKEN, ANTHROPIC_API_KEY]\n");
    project.writeAgent("cloned", "image: example/cloned:1\nenv: [ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN]\n");
    // None of these is set where start runs: what the bottle would get can only come from the store.
    const unset = { KEYED_TOKEN: undefined, ANTHROPIC_API_KEY: undefined, CLAUDE_CODE_OAUTH_TOKEN: undefined };
    try {
      const started = await runCli(["start", "leaky"], { cwd: project.dir, env: { ...env(), ...unset, FAKE_MODE: "show-passthrough" } });
      expect(started.code, started.stderr).toBe(0);
      const { env: given } = JSON.parse(started.stdout) as { env: Record<string, string | null> };
      expect(given).toMatchObject({ KEYED_TOKEN: null, ANTHROPIC_API_KEY: null });
      expect(started.stdout + started.stderr).not.toContain(KEY);

      const refused = await runCli(["start", "cloned"], { cwd: project.dir, env: { ...env(), ...unset, FAKE_MODE: "show-passthrough" } });
      expect(refused.code).toBe(125);
      expect(refused.stderr).toContain("env[0]: ANTHROPIC_API_KEY holds your credential");
      expect(refused.stderr).toContain("credentials:");
      expect(refused.stdout + refused.stderr).not.toContain(KEY);
    } finally {
      await run(["logout", "keyed"]);
      await run(["logout"]);
    }
  });

  it("stores an Anthropic API key from stdin for claude, and refuses an empty one", async () => {
    expect((await run(["login", "--api-key"], project.dir, "")).code).toBe(2);
    const stored = await run(["login", "--api-key"], project.dir, `${KEY}\n`);
    expect(stored.stdout).toContain("Stored ANTHROPIC_API_KEY");
    expect(stored.stdout + stored.stderr).not.toContain(KEY);
    expect((await run(["logout"])).stdout).toContain("Removed ANTHROPIC_API_KEY");
  });

  it("says Claude Code's own login flow needs a terminal", async () => {
    const result = await run(["login"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("needs a terminal");
    expect(result.stderr).toContain("login --api-key");
  });
});
