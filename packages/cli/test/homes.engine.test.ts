import { mkdirSync, realpathSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ISOLATIONS } from "@claude-bottle/core";
import { busyboxContext } from "@claude-bottle/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeAgentTraces, removeHomesOf, requireDocker } from "./support/docker.js";
import { createProject, type TestProject } from "./support/project.js";
import { runCli } from "./support/run-cli.js";

interface Home {
  name: string;
  agent: string;
  project: string;
  projectExists: boolean;
}

/** Homes per agent and per project (SECURITY.md point 5): listed, removed per project, pruned when the project is gone; on runc and on gVisor. */
describe.each(ISOLATIONS)("homes (docker, %s)", (isolation) => {
  let project: TestProject;
  let first: string;
  let second: string;
  const inDir = (cwd: string, args: string[]) => runCli(args, { cwd, env: project.env });
  const homes = async (cwd: string) =>
    (JSON.parse((await inDir(cwd, ["ls", "--homes", "--json"])).stdout) as Home[]).filter((h) => h.project === first || h.project === second);

  beforeAll(async () => {
    requireDocker();
    project = createProject();
    const context = busyboxContext();
    project.writeUserAgent("homer", `build: { dockerfile: ${join(context, "Dockerfile")}, context: ${context} }\ncommand: [sh, -c]\nnetwork: false\nisolation: ${isolation}\n`);
    first = realpathSync(project.dir);
    second = join(first, "..", "second");
    mkdirSync(second);
    for (const dir of [first, second]) expect((await inDir(dir, ["start", "homer", "--", "echo mine > $HOME/mine"])).code).toBe(0);
  });

  afterAll(() => {
    removeHomesOf(first);
    removeHomesOf(second);
    removeAgentTraces(["homer"]);
  });

  it("lists one home per project, removes this project's with rm --home, and prunes those of projects that are gone", async () => {
    expect((await homes(first)).map((h) => [h.agent, h.project, h.projectExists])).toEqual(
      expect.arrayContaining([
        ["homer", first, true],
        ["homer", second, true],
      ]),
    );
    const table = await inDir(first, ["ls", "--homes"]);
    expect(table.stdout).toMatch(/homer\s+\/\S+project\s+claude-bottle-home-homer-[0-9a-f]{12}/);

    // A home a bottle still has stays, and the refusal is a state, not a usage error.
    const running = (await inDir(first, ["start", "--detach", "homer", "--", "sleep 60"])).stdout.trim();
    try {
      const refused = await inDir(first, ["rm", "--home", "homer"]);
      expect(refused.code, refused.stderr).toBe(125);
      expect(refused.stderr).toContain("is in use by a bottle");
    } finally {
      expect((await inDir(first, ["rm", "--force", running])).code).toBe(0);
    }

    const removed = await inDir(first, ["rm", "--home", "homer"]);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain(`(homer, ${first})`);
    expect((await homes(first)).map((h) => h.project)).toEqual([second]);
    expect((await inDir(first, ["rm", "--home"])).code).toBe(125);

    rmSync(second, { recursive: true });
    const pruned = await inDir(first, ["prune"]);
    expect(pruned.stdout).toContain(`(homer, ${second})`);
    expect(await homes(first)).toEqual([]);
  });
});
