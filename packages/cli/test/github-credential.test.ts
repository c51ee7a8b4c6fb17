import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { createProject, type TestProject } from "./support/project.js";
import { runCli } from "./support/run-cli.js";

const TOKEN = "ghp_testLoginToken0123456789abcdef";

/**
 * `start --github` and `login github` through the fake backend (no engine
 * needed; the proxy's half is backend-docker's github-credential engine test):
 * the binding is in the plan, the token comes from the environment or the
 * store and never into what the CLI prints, and a pass-through of the same name
 * is refused.
 */
describe("the github credential", () => {
  let project: TestProject;
  // No token of the developer's own: what a start finds must come from the test.
  const env = () => ({ ...project.env, CLAUDE_BOTTLE_BACKEND: "fake", CLAUDE_BOTTLE_CREDENTIAL_STORE: "file", GH_TOKEN: undefined, GITHUB_TOKEN: undefined });
  const run = (args: string[], input?: string) => runCli(args, { cwd: project.dir, env: env(), input });

  beforeAll(async () => {
    project = createProject();
    project.installFakeBackend();
    expect((await run(["trust", "--yes"])).code).toBe(0);
    project.writeAgent("net", "image: example/net:1\nnetwork: { allow: [api.example.com] }\n");
    project.writeUserAgent("plain", "image: example/plain:1\nnetwork: false\n");
    project.writeUserAgent("leaky", "image: example/leaky:1\nenv: [GITHUB_TOKEN]\n");
  });

  it("puts the binding and its hosts in the plan of a project agent", async () => {
    const result = await run(["start", "--github", "net"]);
    expect(result.code).toBe(125);
    expect(result.stderr).toContain("network    only api.example.com, github.com, api.github.com");
    for (const name of ["GH_TOKEN", "GITHUB_TOKEN"]) expect(result.stderr).toContain(`${name}: a placeholder in the bottle; the value only in requests to github.com, api.github.com`);
    // Without the flag the agent's own plan has neither.
    expect((await run(["start", "net"])).stderr).not.toContain("github.com");
  });

  it("login github stores the token that start --github binds; without one the start stops and names login", async () => {
    const before = await run(["start", "--github", "plain"]);
    expect(before.code).toBe(125);
    expect(before.stderr).toContain("start --github needs a GitHub token, and neither GH_TOKEN nor GITHUB_TOKEN is set here or stored.");
    expect(before.stderr).toContain("claude-bottle login github");

    const login = await run(["login", "github"], `${TOKEN}\n`);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toContain("Stored GITHUB_TOKEN in");
    expect(JSON.parse(readFileSync(join(project.stateHome, "claude-bottle", "credentials.json"), "utf8"))).toEqual({ GITHUB_TOKEN: TOKEN });
    const started = await run(["start", "--github", "plain"]);
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout + started.stderr).not.toContain(TOKEN);

    expect((await run(["logout", "github"])).stdout).toContain("Removed GITHUB_TOKEN");
    expect((await run(["start", "--github", "plain"])).code).toBe(125);
  });

  it("refuses --github for an agent that passes GITHUB_TOKEN itself, where the bottle would hold the token", async () => {
    const result = await runCli(["start", "--github", "leaky"], { cwd: project.dir, env: { ...env(), GITHUB_TOKEN: TOKEN } });
    expect(result.code).toBe(125);
    expect(result.stderr).toContain('start --github binds GITHUB_TOKEN, and the agent "leaky" passes GITHUB_TOKEN in env');
    expect(result.stdout + result.stderr).not.toContain(TOKEN);
  });
});
