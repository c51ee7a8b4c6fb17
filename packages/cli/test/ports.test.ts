import { beforeAll, describe, expect, it } from "vitest";
import { createProject, type TestProject } from "./support/project.js";
import { runCli } from "./support/run-cli.js";

/** Ports both ways in what `start` shows and refuses before anything runs, through the fake backend (no engine needed). */
describe("ports in the plan", () => {
  let project: TestProject;
  const run = (args: string[]) => runCli(args, { cwd: project.dir, env: { ...project.env, CLAUDE_BOTTLE_BACKEND: "fake" } });

  beforeAll(async () => {
    project = createProject();
    project.installFakeBackend();
    expect((await run(["trust", "--yes"])).code).toBe(0);
    project.writeAgent("dev", ["image: example/dev:1", 'ports: [3000, "8080:80"]'].join("\n"));
  });

  it("shows a project agent's published ports, and those --publish adds, as loopback only", async () => {
    const result = await run(["start", "dev", "--publish", "5173"]);
    expect(result.code).toBe(125);
    expect(result.stderr).toContain("ports      the bottle's 3000 on your 127.0.0.1:3000 and [::1]:3000 only");
    expect(result.stderr).toContain("the bottle's 80 on your 127.0.0.1:8080 and [::1]:8080 only");
    expect(result.stderr).toContain("the bottle's 5173 on your 127.0.0.1:5173 and [::1]:5173 only");
  });

  it("refuses a --publish that is no port, or takes a host port the file already gives out", async () => {
    expect(await run(["start", "dev", "--publish", "0.0.0.0:3000"])).toMatchObject({ code: 2, stderr: expect.stringContaining("--publish 0.0.0.0:3000: ") });
    const clash = await run(["start", "dev", "--publish", "3000:4000"]);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toContain("the host port 3000 is published twice");
  });

  it("refuses network.host in a project's file, and shows a --host-service the user gives, in capitals", async () => {
    project.writeAgent("db", "image: example/db:1\nnetwork: { host: [5432] }\n");
    const refused = await run(["start", "db"]);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toContain("network.host: 5432 would let the bottle reach services on your machine");
    const flagged = await run(["start", "dev", "--host-service", "localhost:8931"]);
    expect(flagged.stderr).toContain("host       YOUR MACHINE'S LOOPBACK PORTS 8931, at host.claude-bottle.internal");
    expect(await run(["start", "dev", "--host-service", "db.example:5432"])).toMatchObject({ code: 2, stderr: expect.stringContaining("--host-service db.example:5432: ") });
  });
});
