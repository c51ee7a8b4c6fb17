import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseMemory } from "../src/index.js";
import { listAgents, resolveAgent, type BuiltinAgent } from "../src/host.js";
import { bottleErrorOf } from "../src/testing/index.js";

const builtin: BuiltinAgent = {
  slug: "claude",
  dir: "/opt/claude-bottle/agents/claude",
  recipe: { description: "Claude Code", build: { dockerfile: "Dockerfile", context: "." }, command: ["claude"] },
};

function layout() {
  const root = mkdtempSync(join(tmpdir(), "cb-agents-"));
  const project = join(root, "project");
  const nested = join(project, "src", "deep");
  const config = join(root, "config");
  mkdirSync(join(project, ".claude-bottle", "agents"), { recursive: true });
  mkdirSync(nested, { recursive: true });
  mkdirSync(join(config, "claude-bottle", "agents"), { recursive: true });
  const projectAgent = (slug: string, yaml: string) => writeFileSync(join(project, ".claude-bottle", "agents", `${slug}.yaml`), yaml);
  const userAgent = (slug: string, yaml: string) => writeFileSync(join(config, "claude-bottle", "agents", `${slug}.yaml`), yaml);
  const options = (cwd = project) => ({ cwd, env: { XDG_CONFIG_HOME: config }, builtins: [builtin], home: join(root, "home") });
  return { root, project, nested, projectAgent, userAgent, options };
}


describe("agents", () => {
  it("resolves a project agent with every default applied and paths made absolute", async () => {
    const t = layout();
    t.projectAgent(
      "reviewer",
      [
        "description: Reviews the branch",
        "build: { dockerfile: docker/Dockerfile, context: docker, args: { V: '1' } }",
        "command: [claude]",
        "args: [--model, sonnet]",
        "mounts:",
        "  - { source: ~/.gitconfig, target: /home/agent/.gitconfig, readOnly: true }",
        "env: [ANTHROPIC_API_KEY, MODE=fast, EMPTY=]",
        "network: false",
        "resources: { cpus: 2, memory: 4g }",
      ].join("\n"),
    );
    const agent = await resolveAgent("reviewer", t.options(t.nested));
    const dir = join(t.project, ".claude-bottle", "agents");
    expect(agent).toMatchObject({
      slug: "reviewer",
      origin: "project",
      file: join(dir, "reviewer.yaml"),
      description: "Reviews the branch",
      image: { kind: "build", dockerfile: join(dir, "docker", "Dockerfile"), context: join(dir, "docker"), args: { V: "1" } },
      command: ["claude"],
      args: ["--model", "sonnet"],
      workspace: t.nested,
      mounts: [{ source: join(t.root, "home", ".gitconfig"), target: "/home/agent/.gitconfig", readOnly: true }],
      env: [
        { name: "ANTHROPIC_API_KEY", passthrough: true },
        { name: "MODE", passthrough: false, value: "fast" },
        { name: "EMPTY", passthrough: false, value: "" },
      ],
      network: false,
      resources: { cpus: 2, memory: 4 * 1024 ** 3, pids: 4096 },
      projectRoot: t.project,
    });
  });

  it("makes extra mounts read-only unless the file says readOnly: false, and fills in the resource defaults", async () => {
    const t = layout();
    t.projectAgent("m", "image: a/b:1\nmounts: [{ source: ., target: /a }, { source: ., target: /b, readOnly: false }]");
    const agent = await resolveAgent("m", t.options());
    expect(agent.mounts.map((m) => m.readOnly)).toEqual([true, false]);
    expect(agent.resources.pids).toBe(4096);
    expect(agent.resources.memory).toBeGreaterThanOrEqual(512 * 1024 ** 2);
    expect(agent.resources.memory).toBeLessThanOrEqual(8 * 1024 ** 3);
  });

  it("says which agents a project file replaces", async () => {
    const t = layout();
    t.userAgent("claude", "image: user/claude:1");
    t.projectAgent("claude", "image: project/claude:1");
    expect((await resolveAgent("claude", t.options())).shadows).toEqual(["user", "builtin"]);
  });

  it("prefers project over user over built-in, and lists what each hides", async () => {
    const t = layout();
    t.userAgent("claude", "image: user/claude:1\ndescription: user claude");
    t.userAgent("helper", "image: user/helper:1");
    t.projectAgent("claude", "image: project/claude:1\ndescription: project claude");
    expect((await resolveAgent("claude", t.options())).image).toEqual({ kind: "ref", ref: "project/claude:1" });
    expect((await resolveAgent("helper", t.options())).origin).toBe("user");

    const listed = await listAgents(t.options());
    expect(listed.map((a) => [a.slug, a.origin, a.shadows])).toEqual([
      ["claude", "project", ["user", "builtin"]],
      ["helper", "user", []],
    ]);
    expect(listed[0]!.description).toBe("project claude");
  });

  it("falls back to the built-in claude agent outside any project", async () => {
    const t = layout();
    const outside = join(t.root, "outside");
    mkdirSync(outside);
    const agent = await resolveAgent("claude", t.options(outside));
    expect(agent.origin).toBe("builtin");
    expect(agent.image).toEqual({ kind: "build", dockerfile: join(builtin.dir, "Dockerfile"), context: builtin.dir, args: {} });
    expect(agent.network).toBe(true);
    expect(agent.workspace).toBe(outside);
  });

  it("names the agents found when the one asked for does not exist", async () => {
    const t = layout();
    t.projectAgent("reviewer", "image: a/b:1");
    const error = await bottleErrorOf(resolveAgent("reveiwer", t.options()));
    expect(error.code).toBe("AGENT_NOT_FOUND");
    expect(error.message).toContain('"reveiwer"');
    expect(error.hint).toContain("claude, reviewer");
  });

  it.each([
    ["an unknown field", "image: a/b:1\nimage_name: typo", '"image_name"'],
    ["a field of the wrong type", "image: a/b:1\nnetwork: yes-please", 'field "network"'],
    ["a bad memory size", "image: a/b:1\nresources: { memory: lots }", 'field "resources.memory": must be a size'],
    ["a bad env entry", "image: a/b:1\nenv: ['1BAD']", 'field "env.0": must be NAME'],
    ["a relative mount target", "image: a/b:1\nmounts: [{ source: ., target: rel }]", 'field "mounts.0.target": must be an absolute path'],
    ["both build and image", "image: a/b:1\nbuild: { dockerfile: Dockerfile }", 'both "build" and "image"'],
    ["neither build nor image", "description: nothing to run", 'needs "build"'],
    ["broken YAML", "image: [unclosed", "not valid YAML"],
    ["a list instead of a mapping", "- image: a/b:1", 'field "(top level)": must be a mapping'],
    ["an unknown field inside build", "build: { dockerfile: D, target: x }", 'unknown field "target" in "build"'],
    ["an unquoted number as a build argument", "build: { args: { V: 2 } }", 'field "build.args.V": must be a string (quote numbers)'],
    ["an empty command", "image: a/b:1\ncommand: []", 'field "command": must be a non-empty list of strings'],
    ["zero CPUs", "image: a/b:1\nresources: { cpus: 0 }", 'field "resources.cpus": must be a positive number'],
    ["an empty image", "image: ''", 'field "image": must be a non-empty string'],
    ["an inherited name as a field", "image: a/b:1\nconstructor: x", 'unknown field "constructor"'],
    ["toString as a field", "image: a/b:1\ntoString: x", 'unknown field "toString"'],
    ["__proto__ as a field", "image: a/b:1\n__proto__: { network: false }", 'unknown field "__proto__"'],
    ["hasOwnProperty inside resources", "image: a/b:1\nresources: { hasOwnProperty: 1 }", 'unknown field "hasOwnProperty" in "resources"'],
    ["zero processes", "image: a/b:1\nresources: { pids: 0 }", 'field "resources.pids": must be a positive whole number'],
    // Host entries and CIDRs are decided by the egress-policy parsers, whose message says what to write.
    ["an allowed host with a bad port", "image: a/b:1\nnetwork: { allow: ['a.example:0'] }", 'field "network.allow.0": "a.example:0" has a bad port'],
    ["an allowed host with a trailing dot", "image: a/b:1\nnetwork: { allow: [ok.example, 'a.example.'] }", 'field "network.allow.1": "a.example." ends with a dot'],
    ["a denied pattern of an IP", "image: a/b:1\nnetwork: { deny: ['*.10.0.0.1'] }", 'field "network.deny.0": "*.10.0.0.1": a pattern takes a domain'],
    ["an allowed IPv4 address in a short form", "image: a/b:1\nnetwork: { allow: ['0x7f.1'] }", 'write "127.0.0.1"'],
    ["a private range with a zone", "image: a/b:1\nnetwork: { allowPrivate: ['fe80::1%eth0/64'] }", 'field "network.allowPrivate.0": "fe80::1%eth0/64" is not a CIDR'],
    ["a private range of 33 bits", "image: a/b:1\nnetwork: { allowPrivate: [10.0.0.0/33] }", "bad prefix length"],
    ["a credential host with a port", "image: a/b:1\ncredentials: [{ env: TOKEN, hosts: ['api.example.com:8443'] }]", 'field "credentials.0.hosts.0": "api.example.com:8443" names a port'],
    ["a credential sent to an IP address", "image: a/b:1\ncredentials: [{ env: TOKEN, hosts: [203.0.113.9] }]", 'field "credentials.0.hosts.0": "203.0.113.9" is an IP address'],
  ])("rejects %s with an error naming the file and the field", async (_, yaml, expected) => {
    const t = layout();
    t.projectAgent("broken", yaml);
    const error = await bottleErrorOf(resolveAgent("broken", t.options()));
    expect(error.code).toBe("AGENT_INVALID");
    expect(error.message).toContain(join(t.project, ".claude-bottle", "agents", "broken.yaml"));
    expect(error.message).toContain(expected);
  });

  it("lists an invalid file with its error instead of failing the whole listing", async () => {
    const t = layout();
    t.projectAgent("broken", "imag: typo");
    const listed = await listAgents(t.options());
    const broken = listed.find((a) => a.slug === "broken");
    expect(broken?.error?.code).toBe("AGENT_INVALID");
    expect(listed.find((a) => a.slug === "claude")?.error).toBeUndefined();
  });

  it("validates slugs and ignores files whose names are not slugs", async () => {
    const t = layout();
    t.projectAgent("Bad_Name", "image: a/b:1");
    expect((await listAgents(t.options())).map((a) => a.slug)).toEqual(["claude"]);
    for (const slug of ["Bad_Name", "-x", "a--b", "../etc", ""]) {
      expect((await bottleErrorOf(resolveAgent(slug, t.options()))).code).toBe("INVALID_ARGUMENT");
    }
  });

  it("stops looking for project agents at the repository root", async () => {
    const t = layout();
    const clone = join(t.project, "vendor", "clone");
    mkdirSync(join(clone, ".git"), { recursive: true });
    t.projectAgent("outer", "image: a/b:1");
    // Inside a nested repository, the enclosing project's agents are not this repository's.
    expect((await listAgents(t.options(clone))).map((a) => a.slug)).toEqual(["claude"]);
    expect((await listAgents(t.options(join(t.project, "vendor")))).map((a) => a.slug)).toEqual(["claude", "outer"]);
    // The repository root's own agents are found.
    mkdirSync(join(clone, ".claude-bottle", "agents"), { recursive: true });
    writeFileSync(join(clone, ".claude-bottle", "agents", "inner.yaml"), "image: a/b:1");
    expect((await listAgents(t.options(clone))).map((a) => a.slug)).toEqual(["claude", "inner"]);
  });

  it("stops looking for project agents below the home directory", async () => {
    const t = layout();
    const home = join(t.root, "home");
    mkdirSync(join(home, ".claude-bottle", "agents"), { recursive: true });
    writeFileSync(join(home, ".claude-bottle", "agents", "planted.yaml"), "image: a/b:1");
    mkdirSync(join(home, "code"), { recursive: true });
    expect((await listAgents(t.options(join(home, "code")))).map((a) => a.slug)).toEqual(["claude"]);
  });

  it("skips agent files and folders others may write or that are not the user's, and says so in debug", async () => {
    const t = layout();
    t.projectAgent("open", "image: a/b:1");
    t.projectAgent("fine", "image: a/b:1");
    chmodSync(join(t.project, ".claude-bottle", "agents", "open.yaml"), 0o666);
    const messages: string[] = [];
    const logger = { debug: (m: string) => messages.push(m), info() {}, warn() {} };
    expect((await listAgents({ ...t.options(), logger })).map((a) => a.slug)).toEqual(["claude", "fine"]);
    expect(messages.join("\n")).toMatch(/skipping .*open\.yaml: anyone on this machine may write it/);

    // A file owned by another user (this test's own uid, seen as a stranger's).
    const stranger = (process.getuid?.() ?? 0) + 1;
    messages.length = 0;
    expect((await listAgents({ ...t.options(), logger, uid: stranger })).map((a) => a.slug)).toEqual(["claude"]);
    expect(messages.join("\n")).toMatch(/skipping .*\.claude-bottle: it belongs to user/);

    chmodSync(join(t.project, ".claude-bottle", "agents"), 0o777);
    expect((await listAgents({ ...t.options(), logger })).map((a) => a.slug)).toEqual(["claude"]);
  });

  it("parses memory sizes", () => {
    expect(parseMemory("512m")).toBe(512 * 1024 ** 2);
    expect(parseMemory("1.5G")).toBe(1.5 * 1024 ** 3);
    expect(parseMemory("100")).toBe(100);
    expect(parseMemory(2048)).toBe(2048);
    expect(() => parseMemory("4 gigs")).toThrow();
  });
});
