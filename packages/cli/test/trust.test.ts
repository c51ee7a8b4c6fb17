import { describe, expect, it } from "vitest";
import { createProject } from "./support/project.js";
import { runCli } from "./support/run-cli.js";

/** `trust --yes` in a project where one agent file is invalid, through the fake backend (no engine needed). */
describe("trust", () => {
  it("approves the valid agents, lists the invalid one with its error, and exits non-zero", async () => {
    const project = createProject();
    project.installFakeBackend();
    const run = (args: string[]) => runCli(args, { cwd: project.dir, env: { ...project.env, CLAUDE_BOTTLE_BACKEND: "fake" } });
    project.writeAgent("good", "image: example/good:1\nnetwork: false\n");
    const bad = project.writeAgent("broken", "image: example/broken:1\nnetwrok: false\n");

    const result = await run(["trust", "--yes"]);
    expect(result.code).not.toBe(0);
    expect(result.stdout).toContain("agent:good");
    expect(result.stderr).toContain("broken");
    expect(result.stderr).toContain(bad);
    expect(result.stderr).toContain("netwrok");

    const approved = (JSON.parse((await run(["trust", "--list", "--json"])).stdout) as { subject: string }[]).map((a) => a.subject);
    expect(approved).toContain("agent:good");
    expect(approved).not.toContain("agent:broken");
    // A second run: the valid one is already approved, the invalid one still fails the command.
    const again = await run(["trust", "--yes"]);
    expect(again.code).not.toBe(0);
    expect(again.stdout).toContain("Already approved");
  });
});
