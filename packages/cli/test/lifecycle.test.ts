import { beforeAll, describe, expect, it } from "vitest";
import { createProject, type TestProject } from "./support/project.js";
import { runCli } from "./support/run-cli.js";

/** ls, doctor, exec and the capability checks, through the fake backend. */
describe("lifecycle commands", () => {
  let project: TestProject;
  const run = (args: string[], env: Record<string, string> = {}) =>
    runCli(args, { cwd: project.dir, env: { ...project.env, CLAUDE_BOTTLE_BACKEND: "fake", ...env } });

  beforeAll(async () => {
    project = createProject();
    project.installFakeBackend();
    const approved = await run(["trust", "--yes"]);
    expect(approved.code, approved.stderr).toBe(0);
  });

  it("ls --json prints the backend's bottles", async () => {
    const result = await run(["ls", "--json"]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([
      {
        name: "claude-bottle-bb-fake01",
        agent: "bb",
        backend: "fake",
        state: "running",
        workspace: "/tmp/ws",
        created: "2026-01-01T00:00:00.000Z",
        // Reported nothing: running, since it was created.
        status: { state: "running", since: "2026-01-01T00:00:00.000Z" },
      },
    ]);
    expect(result.stderr).toBe("");
  });

  it("ls prints a table", async () => {
    const result = await run(["ls"]);
    expect(result.stdout.split("\n")[0]).toMatch(/^NAME\s+AGENT\s+BACKEND\s+ISOLATION\s+STATE\s+STATUS\s+CREATED\s+BRANCH\s+PORTS\s+WORKSPACE$/);
    expect(result.stdout).toMatch(/^claude-bottle-bb-fake01\s+bb\s+fake\s+-\s+running\s+running \(\d+ days ago\)\s+\d+ days ago\s+-\s+-\s+\/tmp\/ws$/m);
  });

  it("ls shows a running bottle that lost its egress proxy as degraded, says why and how to bring it back", async () => {
    const result = await run(["ls"], { FAKE_MODE: "degraded" });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^claude-bottle-bb-fake01\s+bb\s+fake\s+-\s+degraded\s+running \(/m);
    expect(result.stdout).toContain(
      "\nclaude-bottle-bb-fake01 is degraded: its egress proxy is not running (exited (137) 2 seconds ago): every request it makes fails. Bring it back with: claude-bottle proxy restart claude-bottle-bb-fake01\n",
    );
    const json = JSON.parse((await run(["ls", "--json"], { FAKE_MODE: "degraded" })).stdout) as { state: string; degraded?: string }[];
    expect(json[0]).toMatchObject({ state: "running", degraded: expect.stringContaining("egress proxy is not running") });
  });

  it("proxy takes restart only", async () => {
    const result = await run(["proxy", "reload", "x"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("reload");
  });

  it("doctor exits 0 when every check passes", async () => {
    const result = await run(["doctor"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("engine: fake engine 1.0");
  });

  it("doctor exits 1 and says what is missing, with the hint", async () => {
    const result = await run(["doctor"], { FAKE_DOCTOR: "fail" });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/MISSING\s+kvm: \/dev\/kvm is missing\n\s+hint: Enable virtualization\./);
    const json = await run(["doctor", "--json"], { FAKE_DOCTOR: "fail" });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ backend: "fake", checks: [{ ok: true }, { name: "kvm", ok: false }] });
  });

  it("exec passes the command after -- and exits with its code", async () => {
    const result = await run(["exec", "some-bottle", "--", "ls", "-la", "/"]);
    expect(result.code).toBe(3);
    expect(result.stdout).toBe("exec in some-bottle: ls -la /\n");
  });

  it("shell runs a shell through exec", async () => {
    const result = await run(["shell", "some-bottle"]);
    expect(result.stdout).toMatch(/^exec in some-bottle: \/bin\/sh -c /);
  });

  it("logs --egress prints each denial record as a line for a person, and nothing for a line that is not one", async () => {
    const result = await run(["logs", "claude-bottle-bb-fake01", "--egress"], { FAKE_DENIALS: "1" });
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe(
      [
        "2026-01-02T03:04:05.000Z  evil.example:443  not-allowed  evil.example:443 is not on this bottle's allow-list",
        "2026-01-02T03:04:05.000Z  [2001:db8::1]:443  ip-literal  an address",
        "2026-01-02T03:04:05.000Z  -  bad-request  not HTTP",
        "2026-01-02T03:04:05.000Z  quiet.example  not-allowed  smolvm refused to resolve it",
        "",
      ].join("\n"),
    );
  });

  it.each([
    [["stop", "x"], "stop"],
    [["rm", "-f", "x"], "remove"],
    [["logs", "x"], "logs"],
    [["attach", "x"], "attach"],
    [["proxy", "restart", "x"], "restartProxy"],
  ])("%j fails with UNSUPPORTED when the backend lacks %s", async (args, capability) => {
    const result = await run(args);
    expect(result.code).toBe(125);
    expect(result.stderr).toContain(`claude-bottle: The fake backend does not support "${capability}".\n  hint: `);
  });
});
