import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ErrorCodes, assertEnforced, ENFORCEMENTS, parseIsolationFlag, requirementsOf } from "../src/index.js";
import { approvalsNeeded, planOf, resolveAgent, type LocatedBackend } from "../src/host.js";
import { bottleErrorOf, testSpec } from "../src/testing/index.js";

const docker: LocatedBackend = { kind: "builtin", name: "docker", fromProject: false };

/** A project and a user config directory; `userConfig` writes the user's config.yaml. */
function layout() {
  const root = mkdtempSync(join(tmpdir(), "cb-isolation-"));
  const project = join(root, "project");
  const config = join(root, "config");
  mkdirSync(join(project, ".claude-bottle", "agents"), { recursive: true });
  mkdirSync(join(config, "claude-bottle", "agents"), { recursive: true });
  return {
    project,
    projectAgent: (slug: string, yaml: string) => writeFileSync(join(project, ".claude-bottle", "agents", `${slug}.yaml`), yaml),
    userAgent: (slug: string, yaml: string) => writeFileSync(join(config, "claude-bottle", "agents", `${slug}.yaml`), yaml),
    userConfig: (yaml: string) => writeFileSync(join(config, "claude-bottle", "config.yaml"), yaml),
    // The spec a start makes of the agent: what the plan and the enforcement checks read.
    resolve: async (slug: string) => testSpec(await resolveAgent(slug, { cwd: project, env: { XDG_CONFIG_HOME: config }, builtins: [], home: join(root, "home") })),
  };
}

describe("isolation", () => {
  it("a project file cannot ask for less than the user's default: its runc is raised to gvisor", async () => {
    const t = layout();
    t.userConfig("isolation: gvisor\n");
    t.projectAgent("weak", "image: x/y:1\nisolation: runc\n");
    expect((await t.resolve("weak")).isolation).toBe("gvisor");
    // Nor by saying nothing.
    t.projectAgent("silent", "image: x/y:1\n");
    expect((await t.resolve("silent")).isolation).toBe("gvisor");
  });

  it("a project file may ask for more than the user's default", async () => {
    const t = layout();
    t.userConfig("isolation: runc\n");
    t.projectAgent("strong", "image: x/y:1\nisolation: gvisor\n");
    expect((await t.resolve("strong")).isolation).toBe("gvisor");
  });

  it("the user's own agent file says what it wants, below the default too", async () => {
    const t = layout();
    t.userConfig("isolation: gvisor\n");
    t.userAgent("mine", "image: x/y:1\nisolation: runc\n");
    expect((await t.resolve("mine")).isolation).toBe("runc");
  });

  it("without any: the backend's default, and the plan has no isolation (older approvals keep their digest)", async () => {
    const t = layout();
    t.projectAgent("plain", "image: x/y:1\n");
    const agent = await t.resolve("plain");
    expect(agent.isolation).toBeUndefined();
    expect(planOf(agent, docker)).not.toHaveProperty("isolation");
  });

  it("the plan shows it and the approval covers it: the user's default raising a project's bottle asks again", async () => {
    const t = layout();
    t.projectAgent("reviewed", "image: x/y:1\n");
    const before = await t.resolve("reviewed");
    t.userConfig("isolation: gvisor\n");
    const after = await t.resolve("reviewed");
    expect(planOf(after, docker).isolation).toBe("gvisor");
    const [first] = await approvalsNeeded(before, planOf(before, docker), docker);
    const [second] = await approvalsNeeded(after, planOf(after, docker), docker);
    expect(second!.digest).not.toBe(first!.digest);
  });

  it("refuses a config or agent file with an isolation it does not know, naming the field", async () => {
    const t = layout();
    t.projectAgent("odd", "image: x/y:1\nisolation: kata\n");
    const agentError = await bottleErrorOf(t.resolve("odd"));
    expect(agentError.code).toBe(ErrorCodes.AGENT_INVALID);
    expect(agentError.message).toContain('field "isolation": must be gvisor or runc');
    t.projectAgent("fine", "image: x/y:1\n");
    t.userConfig("isolation: none\n");
    const configError = await bottleErrorOf(t.resolve("fine"));
    expect(configError.message).toMatch(/config\.yaml: field "isolation": must be gvisor or runc/);
    t.userConfig("isolaton: gvisor\n");
    expect((await bottleErrorOf(t.resolve("fine"))).message).toContain("isolaton");
    expect(() => parseIsolationFlag("kvm")).toThrow(/--isolation kvm/);
  });

  it("a backend that does not declare isolation.gvisor refuses a gvisor bottle; runc asks nothing", async () => {
    const t = layout();
    t.projectAgent("boxed", "image: x/y:1\nisolation: gvisor\n");
    const agent = await t.resolve("boxed");
    expect(requirementsOf(agent)).toContainEqual({ enforcement: "isolation.gvisor", field: "isolation", source: "asked" });
    const error = await bottleErrorOf(Promise.resolve().then(() => assertEnforced(agent, { name: "acme", enforces: ENFORCEMENTS.filter((e) => e !== "isolation.gvisor") })));
    expect(error.code).toBe(ErrorCodes.POLICY_NOT_ENFORCED);
    expect(error.message).toContain("isolation needs a backend that enforces isolation.gvisor; acme does not.");
    expect(requirementsOf({ ...agent, isolation: "runc" }).map((r) => r.enforcement)).not.toContain("isolation.gvisor");
  });
});
