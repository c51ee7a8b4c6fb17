import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseHostService, parsePublishedPort, requirementsOf } from "../src/index.js";
import { planOf, resolveAgent } from "../src/host.js";
import { bottleErrorOf, testSpec } from "../src/testing/index.js";

/** A project with a project agent file and a user agent file of the same recipe, both of which may be written. */
function layout() {
  const root = mkdtempSync(join(tmpdir(), "cb-ports-"));
  const home = join(root, "home");
  const project = join(home, "code", "project");
  const agents = join(project, ".claude-bottle", "agents");
  const userAgents = join(home, ".config", "claude-bottle", "agents");
  for (const dir of [agents, userAgents]) mkdirSync(dir, { recursive: true });
  const env = { XDG_CONFIG_HOME: join(home, ".config") };
  return {
    project: (yaml: string) => writeFileSync(join(agents, "dev.yaml"), yaml),
    user: (yaml: string) => writeFileSync(join(userAgents, "dev.yaml"), yaml),
    resolve: () => resolveAgent("dev", { cwd: project, env, home, builtins: [] }),
    // A start checks the hard limits on the spec it makes of the agent.
    spec: async () => testSpec(await resolveAgent("dev", { cwd: project, env, home, builtins: [] }), { host: { home, env } }),
  };
}

const builtinBackend = { kind: "builtin", name: "docker", fromProject: false } as const;

describe("ports: the bottle's ports on the user's loopback", () => {
  it("reads 3000 and HOST:BOTTLE, from a project file too, and the plan shows them", async () => {
    const t = layout();
    t.project('image: x/y:1\nports: [3000, "8080:80"]\n');
    const agent = await t.resolve();
    expect(agent.ports).toEqual([
      { host: 3000, bottle: 3000 },
      { host: 8080, bottle: 80 },
    ]);
    expect(requirementsOf(testSpec(agent)).find((r) => r.enforcement === "ports.publish")).toEqual({ enforcement: "ports.publish", field: "ports", source: "asked" });
    expect(planOf(testSpec(agent), builtinBackend as never).ports).toEqual({ published: [{ host: 3000, bottle: 3000 }, { host: 8080, bottle: 80 }], host: [] });
  });

  it.each([
    ["a port out of range", "ports: [70000]", 'field "ports.0": 70000 is not a port'],
    ["port 0", 'ports: ["0:3000"]', 'field "ports.0": "0:3000" is not a port'],
    ["a host port twice", 'ports: [3000, "3000:4000"]', 'field "ports.1": the host port 3000 is published twice'],
    ["an address in front", 'ports: ["0.0.0.0:3000:3000"]', 'field "ports.0": must be a port such as 3000'],
  ])("refuses %s, naming the field", async (_, yaml, message) => {
    const t = layout();
    t.project(`image: x/y:1\n${yaml}\n`);
    const error = await bottleErrorOf(t.resolve());
    expect(error.code).toBe("AGENT_INVALID");
    expect(error.message).toContain(message);
  });

  it("leaves the plan of an agent without ports as it was, so earlier approvals still hold", async () => {
    const t = layout();
    t.project("image: x/y:1\n");
    expect(Object.keys(planOf(testSpec(await t.resolve()), builtinBackend as never))).not.toContain("ports");
  });

  it("parses what --publish takes", () => {
    expect(parsePublishedPort("5173")).toEqual({ host: 5173, bottle: 5173 });
    expect(parsePublishedPort("127.0.0.1:5173")).toBeUndefined();
    expect(parsePublishedPort("3000:")).toBeUndefined();
  });
});

describe("network.host: ports of the user's own machine", () => {
  it("is read from a user agent file, and the plan and the requirements say it", async () => {
    const t = layout();
    t.user('image: x/y:1\nnetwork:\n  allow: [api.example.com]\n  host: [5432, "localhost:8931", 5432]\n');
    const agent = await t.resolve();
    expect(agent.hostServices).toEqual([5432, 8931]);
    expect(agent.egress).toEqual({ mode: "allow", allow: ["api.example.com"], deny: [], allowPrivate: [] });
    expect(requirementsOf(testSpec(agent)).map((r) => r.enforcement)).toContain("egress.host");
    expect(planOf(testSpec(agent), builtinBackend as never).ports).toEqual({ published: [], host: [5432, 8931] });
  });

  it("is refused from a project file, as allowPrivate is: the project cannot open the user's machine to its bottle", async () => {
    const t = layout();
    t.project("image: x/y:1\nnetwork:\n  host: [5432]\n");
    const error = await bottleErrorOf(t.spec());
    expect(error.code).toBe("AGENT_REFUSED");
    expect(error.message).toContain("network.host: 5432 would let the bottle reach services on your machine");
    expect(error.hint).toContain("--host-service");
  });

  it("takes only the host's loopback: another host or address is not a host service", async () => {
    expect(parseHostService("localhost:8931")).toBe(8931);
    for (const entry of ["192.168.1.2:5432", "example.com:80", "[::1]:5432", "0", "65536"]) expect(parseHostService(entry)).toBeUndefined();
    const t = layout();
    t.user('image: x/y:1\nnetwork:\n  host: ["db.internal:5432"]\n');
    const error = await bottleErrorOf(t.resolve());
    expect(error.code).toBe("AGENT_INVALID");
    expect(error.message).toContain('field "network.host.0": must be a port of your machine\'s loopback, such as 5432 or "localhost:8931"');
  });
});
