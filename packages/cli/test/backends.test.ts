import { existsSync } from "node:fs";
import { join } from "node:path";
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

  beforeAll(async () => {
    project = createProject();
    project.installFakeBackend();
    project.installPackage("@claude-bottle/backend-broken", {
      "package.json": JSON.stringify({ name: "@claude-bottle/backend-broken", type: "module", exports: "./index.js" }),
      "index.js": 'throw new Error("broken at import");\n',
    });
    project.installPackage("unrelated-package", { "package.json": JSON.stringify({ name: "unrelated-package" }) });
    for (const backend of ["fake", "broken"]) {
      const approved = await runCli(["--backend", backend, "trust", "--yes"], { cwd: project.dir, env: project.env });
      expect(approved.code, approved.stderr).toBe(0);
    }
  });

  it("lists a project backend nobody approved from its package.json, without running its code", async () => {
    const other = createProject();
    const marker = join(other.dir, "imported");
    other.installPackage("claude-bottle-backend-sneaky", {
      "package.json": JSON.stringify({ name: "claude-bottle-backend-sneaky", type: "module", exports: "./index.js" }),
      "index.js": `import { writeFileSync } from "node:fs"; writeFileSync(${JSON.stringify(marker)}, "ran"); export default () => ({});\n`,
    });
    const result = await runCli(["backends", "--json"], { cwd: other.dir, env: other.env });
    const row = (JSON.parse(result.stdout) as (BackendJson & { approval: string })[]).find((r) => r.name === "sneaky");
    expect(row).toMatchObject({ loads: false, approval: "needed", error: expect.stringContaining("claude-bottle --backend sneaky trust") });
    const table = await runCli(["backends"], { cwd: other.dir, env: other.env });
    expect(table.stdout).toMatch(/sneaky\s+claude-bottle-backend-sneaky\s+needs approval/);
    for (const args of [["ls"], ["start", "claude"], ["doctor"]]) {
      const refused = await runCli(["--backend", "sneaky", ...args], { cwd: other.dir, env: other.env });
      expect(refused.code).toBe(125);
      expect(refused.stderr).toContain("has not been approved");
      expect(refused.stderr).toContain("claude-bottle --backend sneaky trust");
    }
    expect(existsSync(marker)).toBe(false);
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
