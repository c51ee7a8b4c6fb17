import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ApprovalStore, approvalsNeeded, locateBackend, planOf, resolveAgent, resolveBottleSpec, type BuiltinAgent, type LocatedBackend } from "../src/host.js";

const builtin: BuiltinAgent = { slug: "claude", dir: "/opt/claude-bottle/agents/claude", recipe: { image: "x/claude:1" } };
const dockerBackend: LocatedBackend = { kind: "builtin", name: "docker", fromProject: false };

function project() {
  const root = mkdtempSync(join(tmpdir(), "cb-trust-"));
  const dir = join(root, "project");
  mkdirSync(join(dir, ".claude-bottle", "agents"), { recursive: true });
  mkdirSync(join(dir, ".git"));
  const write = (path: string, text: string) => writeFileSync(join(dir, path), text);
  const options = { cwd: dir, env: { XDG_CONFIG_HOME: join(root, "config") }, home: join(root, "home"), builtins: [builtin] };
  const needed = async (slug: string, backend: LocatedBackend = dockerBackend) => {
    const spec = resolveBottleSpec(await resolveAgent(slug, options), { name: `claude-bottle-${slug}-000000`, host: { home: options.home, env: options.env } });
    return approvalsNeeded(spec, planOf(spec, backend), backend);
  };
  return { root, dir, write, needed, options };
}

describe("approvals", () => {
  it("asks nothing for a built-in agent on a built-in backend", async () => {
    const p = project();
    expect(await p.needed("claude")).toEqual([]);
  });

  it("gives a project agent a digest that changes with its file, its Dockerfile and its .dockerignore, and not with other context files", async () => {
    const p = project();
    p.write(".claude-bottle/agents/rev.yaml", "build: { context: ../.., dockerfile: ../../Dockerfile }\ncommand: [sh]");
    p.write("Dockerfile", "FROM scratch");
    const [first] = await p.needed("rev");
    expect(first).toMatchObject({ subject: "agent:rev", project: p.dir });
    expect(first!.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect((await p.needed("rev"))[0]!.digest).toBe(first!.digest);

    p.write("README", "context files are built into the image, which runs only in the bottle");
    expect((await p.needed("rev"))[0]!.digest).toBe(first!.digest);

    p.write("Dockerfile", "FROM scratch\nCOPY . /");
    const second = (await p.needed("rev"))[0]!.digest;
    expect(second).not.toBe(first!.digest);
    p.write(".dockerignore", "secret");
    const third = (await p.needed("rev"))[0]!.digest;
    expect(third).not.toBe(second);
    p.write(".claude-bottle/agents/rev.yaml", "build: { context: ../.., dockerfile: ../../Dockerfile }\ncommand: [sh, -c, evil]");
    expect((await p.needed("rev"))[0]!.digest).not.toBe(third);
  });

  it("asks for a backend package installed in the project, and its digest covers its dependencies", async () => {
    const p = project();
    const pkg = join(p.dir, "node_modules", "claude-bottle-backend-acme");
    const dep = join(p.dir, "node_modules", "helper-dep");
    mkdirSync(pkg, { recursive: true });
    mkdirSync(dep, { recursive: true });
    writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "claude-bottle-backend-acme", version: "1.0.0", type: "module", main: "index.js", dependencies: { "helper-dep": "1" } }));
    writeFileSync(join(pkg, "index.js"), "export default () => ({})");
    writeFileSync(join(dep, "package.json"), JSON.stringify({ name: "helper-dep", version: "1.0.0" }));
    writeFileSync(join(dep, "index.js"), "// harmless");
    const host = join(p.root, "cli");
    mkdirSync(host);
    const located = await locateBackend({ name: "acme", env: {}, projectDir: p.dir, hostDir: host, builtins: {} });
    expect(located).toMatchObject({ kind: "package", fromProject: true, packageName: "claude-bottle-backend-acme", version: "1.0.0" });

    const [request] = await p.needed("claude", located);
    expect(request).toMatchObject({ subject: "backend:claude-bottle-backend-acme", project: p.dir });
    expect(request!.files.map((f) => f.path)).toContain(join(dep, "index.js"));
    writeFileSync(join(dep, "index.js"), "// now it runs something else on the host");
    expect((await p.needed("claude", located))[0]!.digest).not.toBe(request!.digest);
  });

  it("treats a backend installed beside claude-bottle as claude-bottle's own", async () => {
    const p = project();
    const host = join(p.root, "cli");
    const pkg = join(host, "node_modules", "claude-bottle-backend-acme");
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "claude-bottle-backend-acme", main: "index.js" }));
    writeFileSync(join(pkg, "index.js"), "");
    const located = await locateBackend({ name: "acme", env: {}, projectDir: p.dir, hostDir: host, builtins: {} });
    expect(located.fromProject).toBe(false);
    expect(await p.needed("claude", located)).toEqual([]);
  });
});

describe("ApprovalStore", () => {
  it("keeps approvals in a 0600 file, replaces by project and subject, revokes, and reads back", async () => {
    const root = mkdtempSync(join(tmpdir(), "cb-store-"));
    const store = ApprovalStore.forUser({ XDG_STATE_HOME: join(root, "state") });
    expect(store.file).toBe(join(root, "state", "claude-bottle", "approvals.json"));
    expect(await store.list()).toEqual([]);
    await store.approve([{ project: "/p", subject: "agent:a", digest: "sha256:1" }]);
    await store.approve([{ project: "/p", subject: "agent:a", digest: "sha256:2" }, { project: "/q", subject: "agent:a", digest: "sha256:3" }]);
    expect(statSync(store.file).mode & 0o777).toBe(0o600);
    expect(statSync(join(root, "state", "claude-bottle")).mode & 0o777).toBe(0o700);
    expect(await store.isApproved("/p", "agent:a", "sha256:1")).toBe(false);
    expect(await store.isApproved("/p", "agent:a", "sha256:2")).toBe(true);
    expect((await store.revoke("/p")).map((a) => a.digest)).toEqual(["sha256:2"]);
    expect((await store.list()).map((a) => a.project)).toEqual(["/q"]);
  });

  it("refuses a file that is not an approvals file, with a hint", async () => {
    const root = mkdtempSync(join(tmpdir(), "cb-store-"));
    const store = new ApprovalStore(join(root, "approvals.json"));
    writeFileSync(store.file, JSON.stringify({ version: 1, approvals: [{ project: 1 }] }));
    await expect(store.list()).rejects.toMatchObject({ code: "APPROVAL_REQUIRED", hint: expect.stringContaining("mv ") });
    expect(readFileSync(store.file, "utf8")).toContain("project");
  });
});
