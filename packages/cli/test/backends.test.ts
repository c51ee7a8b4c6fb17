import { beforeAll, describe, expect, it } from "vitest";
import { createProject, type TestProject } from "./support/project.js";
import { runCli } from "./support/run-cli.js";

interface BackendJson {
  name: string;
  package: string;
  source: string;
  selected: boolean;
  loads: boolean;
  capabilities: string[];
  error: string | null;
}

describe("claude-bottle backends", () => {
  let project: TestProject;

  beforeAll(() => {
    project = createProject();
    project.installFakeBackend();
    project.installPackage("@claude-bottle/backend-broken", {
      "package.json": JSON.stringify({ name: "@claude-bottle/backend-broken", type: "module", exports: "./index.js" }),
      "index.js": 'throw new Error("broken at import");\n',
    });
    project.installPackage("unrelated-package", { "package.json": JSON.stringify({ name: "unrelated-package" }) });
  });

  const list = async (args: string[] = [], env: Record<string, string> = {}) => {
    const result = await runCli(["backends", "--json", ...args], { cwd: project.dir, env: { ...project.env, ...env } });
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout) as BackendJson[];
  };

  it("lists the built-ins first, then the backend packages installed in the project", async () => {
    const rows = await list();
    expect(rows.map((r) => r.package)).toEqual([
      "@claude-bottle/backend-docker",
      "@claude-bottle/backend-smolmachines",
      "@claude-bottle/backend-broken",
      "claude-bottle-backend-fake",
    ]);
    expect(rows.map((r) => r.name)).toEqual(["docker", "smolmachines", "broken", "fake"]);
    expect(rows.slice(0, 2).map((r) => r.source)).toEqual(["built-in", "built-in"]);
  });

  it("loads each one for real and shows its capabilities, or why it fails", async () => {
    const byName = Object.fromEntries((await list()).map((r) => [r.name, r]));
    expect(byName.fake).toMatchObject({ loads: true, capabilities: ["detach", "list", "doctor", "exec"], error: null });
    expect(byName.fake!.source).toContain("claude-bottle-backend-fake");
    expect(byName.broken).toMatchObject({ loads: false, capabilities: [] });
    expect(byName.broken!.error).toContain("broken at import");
  });

  it("marks the selected backend: docker by default, else the variable, else --backend", async () => {
    const selected = (rows: BackendJson[]) => rows.filter((r) => r.selected).map((r) => r.name);
    expect(selected(await list())).toEqual(["docker"]);
    expect(selected(await list([], { CLAUDE_BOTTLE_BACKEND: "fake" }))).toEqual(["fake"]);
    expect(selected(await list(["--backend", "smolmachines"], { CLAUDE_BOTTLE_BACKEND: "fake" }))).toEqual(["smolmachines"]);
  });

  it("adds a selected backend that was not installed under a conventional name, failing to load", async () => {
    const rows = await list(["--backend", "nowhere"]);
    expect(rows.at(-1)).toMatchObject({ name: "nowhere", selected: true, loads: false });
    expect(rows.at(-1)!.error).toContain('No backend named "nowhere"');
  });

  it("prints a table with the selected one starred", async () => {
    const result = await runCli(["backends", "--backend", "fake"], { cwd: project.dir, env: project.env });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^\s+BACKEND\s+PACKAGE\s+STATUS\s+CAPABILITIES$/m);
    expect(result.stdout).toMatch(/^\*\s+fake\s+claude-bottle-backend-fake\s+installed\s+detach, list, doctor, exec$/m);
    expect(result.stdout).toMatch(/^\s+broken\s+@claude-bottle\/backend-broken\s+fails to load/m);
    expect(result.stdout).toContain("broken: ");
  });
});
