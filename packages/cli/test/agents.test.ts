import { beforeAll, describe, expect, it } from "vitest";
import { createProject, type TestProject } from "./support/project.js";
import { runCli } from "./support/run-cli.js";

interface AgentJson {
  slug: string;
  origin: string;
  location: string;
  description: string | null;
  shadows: string[];
  error: { code: string; message: string; hint: string | null } | null;
}

describe("claude-bottle agents", () => {
  let project: TestProject;
  let files: Record<string, string>;

  beforeAll(() => {
    project = createProject();
    files = {
      projectClaude: project.writeAgent("claude", "description: the project's claude\nimage: example/claude:1\n"),
      projectShared: project.writeAgent("shared", "description: from the project\nimage: example/shared:1\n"),
      userShared: project.writeUserAgent("shared", "description: from the user\nimage: example/shared:2\n"),
      userOnly: project.writeUserAgent("mine", "description: only mine\nimage: example/mine:1\n"),
      broken: project.writeUserAgent("broken", "image: example/broken:1\nnetwork: sometimes\n"),
      typo: project.writeAgent("typo", "image: example/typo:1\ncomand: [sh]\n"),
    };
  });

  const list = async () => {
    const result = await runCli(["agents", "--json"], { cwd: project.dir, env: project.env });
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout) as AgentJson[];
  };

  it("lists project over user over built-in, with what each one shadows", async () => {
    const agents = await list();
    const bySlug = Object.fromEntries(agents.map((a) => [a.slug, a]));
    expect(agents.map((a) => a.slug)).toEqual(["broken", "claude", "mine", "shared", "typo"]);
    expect(bySlug.claude).toMatchObject({ origin: "project", location: files.projectClaude, shadows: ["builtin"] });
    expect(bySlug.claude!.description).toBe("the project's claude");
    expect(bySlug.shared).toMatchObject({ origin: "project", location: files.projectShared, shadows: ["user"], error: null });
    expect(bySlug.mine).toMatchObject({ origin: "user", location: files.userOnly, shadows: [], description: "only mine" });
  });

  it("reports an invalid file with the file and the field instead of failing the listing", async () => {
    const bySlug = Object.fromEntries((await list()).map((a) => [a.slug, a]));
    expect(bySlug.broken!.error).toMatchObject({ code: "AGENT_INVALID" });
    expect(bySlug.broken!.error!.message).toContain(files.broken);
    expect(bySlug.broken!.error!.message).toContain('"network"');
    expect(bySlug.typo!.error!.message).toContain(files.typo);
    expect(bySlug.typo!.error!.message).toContain('"comand"');
  });

  it("shows the built-in claude agent where nothing shadows it", async () => {
    const elsewhere = createProject();
    const result = await runCli(["agents", "--json"], { cwd: elsewhere.dir, env: elsewhere.env });
    const agents = JSON.parse(result.stdout) as AgentJson[];
    expect(agents).toHaveLength(1);
    expect(agents[0]).toMatchObject({ slug: "claude", origin: "builtin", shadows: [], error: null });
    expect(agents[0]!.location).toMatch(/agents[/\\]claude$/);
  });

  it("prints a table with the origins and the errors under it", async () => {
    const result = await runCli(["agents"], { cwd: project.dir, env: project.env });
    expect(result.code).toBe(0);
    const lines = result.stdout.split("\n");
    expect(lines[0]).toMatch(/^AGENT\s+ORIGIN\s+DESCRIPTION\s+LOCATION$/);
    expect(result.stdout).toMatch(/^claude\s+project \(over builtin\)\s+the project's claude/m);
    expect(result.stdout).toMatch(/^broken\s+user\s+invalid, see below/m);
    expect(result.stdout).toContain(`broken: ${files.broken}: field "network"`);
    expect(result.stderr).toBe("");
  });

  it("finds the project's agents from a subdirectory", async () => {
    const sub = `${project.dir}/src/deep`;
    await import("node:fs").then((fs) => fs.mkdirSync(sub, { recursive: true }));
    const result = await runCli(["agents", "--json"], { cwd: sub, env: project.env });
    const agents = JSON.parse(result.stdout) as AgentJson[];
    expect(agents.find((a) => a.slug === "claude")!.origin).toBe("project");
  });

  it("an unknown agent fails with the agents that were found", async () => {
    project.installFakeBackend();
    const result = await runCli(["start", "nope", "--backend", "fake"], { cwd: project.dir, env: project.env });
    expect(result.code).toBe(125);
    expect(result.stderr).toContain('claude-bottle: No agent named "nope".');
    expect(result.stderr).toMatch(/  hint: Agents found: broken, claude, mine, shared, typo\./);
  });
});
