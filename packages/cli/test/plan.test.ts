import { beforeAll, describe, expect, it } from "vitest";
import { createProject, type TestProject } from "./support/project.js";
import { runCli } from "./support/run-cli.js";

/** What `start` shows before project configuration takes effect, through the fake backend (no engine needed). */
describe("the plan of a project agent", () => {
  let project: TestProject;
  const run = (args: string[]) => runCli(args, { cwd: project.dir, env: { ...project.env, CLAUDE_BOTTLE_BACKEND: "fake" } });

  beforeAll(async () => {
    project = createProject();
    project.installFakeBackend();
    // Only the backend is approved, before any agent file exists: the agents' plans are what is asked.
    expect((await run(["trust", "--yes"])).code).toBe(0);
    project.writeAgent(
      "net",
      [
        "image: example/net:1",
        "network: { allow: [api.example.com, '*.cdn.example.com:443'], deny: [bad.example.com] }",
        "credentials: [{ env: EXAMPLE_TOKEN, hosts: [api.example.com] }]",
        "mounts: [{ source: ., target: /ro }, { source: ., target: /rw, readOnly: false }]",
        "env: [PASSED_THROUGH, LITERAL=shown]",
      ].join("\n"),
    );
  });

  it("lists the network policy, the secrets, the mounts with ro/rw and the variables by name", async () => {
    const result = await run(["start", "net"]);
    expect(result.code).toBe(125);
    expect(result.stderr).toContain("network    only api.example.com, *.cdn.example.com:443");
    expect(result.stderr).toContain("never: bad.example.com");
    expect(result.stderr).toContain("EXAMPLE_TOKEN: a placeholder in the bottle; the value only in requests to api.example.com");
    expect(result.stderr).toMatch(/-> \/ro \(read-only\)/);
    expect(result.stderr).toMatch(/-> \/rw \(READ-WRITE\)/);
    expect(result.stderr).toContain("from your environment, by name: PASSED_THROUGH");
    expect(result.stderr).toContain("set: LITERAL=shown");
  });

  it("widens the policy for one run with --allow-host, and shows it", async () => {
    const result = await run(["start", "net", "--allow-host", "extra.example.org", "--allow-host", "*.more.example:8443"]);
    expect(result.stderr).toContain("only api.example.com, *.cdn.example.com:443, extra.example.org, *.more.example:8443");
    // The widened plan is a different plan: approving it is not approving the file's own.
    expect(result.stderr).toContain("claude-bottle trust net --yes");
  });

  it("refuses an --allow-host that is not a host", async () => {
    const result = await run(["start", "net", "--allow-host", "http://x/"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--allow-host http://x/: "http://x/" is not a host name');
  });

  it("refuses allowPrivate in a project's file, before anything runs", async () => {
    project.writeAgent("lan", "image: example/lan:1\nnetwork: { allow: [nas.local], allowPrivate: [192.168.1.0/24] }\n");
    const result = await run(["start", "lan"]);
    expect(result.code).toBe(125);
    expect(result.stderr).toContain("network.allowPrivate");
    expect(result.stderr).toContain("only your own agent files may open private ranges");
  });

  it("strips control characters from what a project file makes it print", async () => {
    project.writeAgent("ansi", 'image: example/ansi:1\ndescription: "innocent\\u001b[2J\\u001b]0;pwned\\u0007 agent"\n');
    const result = await run(["start", "ansi"]);
    expect(result.stderr).toContain("innocent agent");
    expect(result.stderr).not.toContain("\u001b");
    expect(result.stderr).not.toContain("\u0007");
  });
});
