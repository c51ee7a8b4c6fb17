import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_PIDS_LIMIT, defaultMemoryLimit, ErrorCodes, type ResolvedAgent } from "../src/index.js";
import { approvalsNeeded, planOf, resolveBottleSpec, withAdditions, type LocatedBackend } from "../src/host.js";
import { bottleErrorOf } from "../src/testing/index.js";

const root = mkdtempSync(join(tmpdir(), "cb-spec-"));
const home = join(root, "home");
const project = join(home, "project");
mkdirSync(join(project, ".claude-bottle", "agents"), { recursive: true });
const host = { home, env: {} };
const docker: LocatedBackend = { kind: "builtin", name: "docker", fromProject: false };

const agent = (patch: Partial<ResolvedAgent> = {}): ResolvedAgent => ({
  slug: "helper",
  origin: "project",
  file: join(project, ".claude-bottle", "agents", "helper.yaml"),
  projectRoot: project,
  image: { kind: "ref", ref: "x/helper:1" },
  args: ["--fast"],
  workspace: project,
  mounts: [],
  env: [{ name: "MODE", passthrough: false, value: "ci" }],
  network: true,
  egress: { mode: "allow", allow: ["api.example.com"], deny: [], allowPrivate: [] },
  resources: {},
  ...patch,
});

describe("the bottle spec", () => {
  it("is resolved once: defaults filled, --allow-host widened in, the name and home set", () => {
    const spec = resolveBottleSpec(agent(), { name: "claude-bottle-helper-abc123", host, allowHosts: ["pypi.org"] });
    expect(spec).toMatchObject({
      specVersion: 1,
      name: "claude-bottle-helper-abc123",
      homeProject: project,
      network: true,
      egress: { mode: "allow", allow: ["api.example.com", "pypi.org"] },
      credentials: [],
      resources: { memory: defaultMemoryLimit(), pids: DEFAULT_PIDS_LIMIT },
    });
    const offline = resolveBottleSpec(agent({ network: false, egress: undefined }), { name: "n", host });
    expect(offline.network).toBe(false);
    expect("egress" in offline).toBe(false);
    // --allow-host gives a bottle without network exactly the hosts named.
    expect(resolveBottleSpec(agent({ network: false, egress: undefined }), { name: "n", host, allowHosts: ["a.example"] }).egress).toEqual({ mode: "allow", allow: ["a.example"], deny: [], allowPrivate: [] });
  });

  it("checks the hard limits, with the flags applied: a project agent cannot reach the home, nor open private ranges", async () => {
    const toHome = await bottleErrorOf((async () => resolveBottleSpec(agent({ mounts: [{ source: home, target: "/h", readOnly: true }] }), { name: "n", host }))());
    expect(toHome.code).toBe(ErrorCodes.AGENT_REFUSED);
    expect(toHome.message).toContain("mounts[0].source");
    const privateRange = await bottleErrorOf(
      (async () => resolveBottleSpec(agent({ egress: { mode: "all", deny: [], allowPrivate: ["10.0.0.0/8"] } }), { name: "n", host }))(),
    );
    expect(privateRange.message).toContain("network.allowPrivate");
  });

  it("takes claude-bottle's additions after approval without changing the plan or the approval's digest", async () => {
    const spec = resolveBottleSpec(agent(), { name: "claude-bottle-helper-abc123", host });
    const worktree = join(root, "worktrees", "claude-bottle-helper-abc123");
    const bottled = withAdditions(spec, {
      workspace: worktree,
      mounts: [{ source: join(root, "status"), target: "/claude-bottle/status", readOnly: false }],
      env: [{ name: "GIT_AUTHOR_NAME", passthrough: false, value: "Me" }],
      args: ["--settings", "/claude-bottle/hooks/settings.json"],
    });
    expect(bottled.workspace).toBe(worktree);
    expect(bottled.homeProject).toBe(project);
    expect(bottled.args).toEqual(["--settings", "/claude-bottle/hooks/settings.json", "--fast"]);
    expect(bottled.mounts.map((m) => m.target)).toEqual(["/claude-bottle/status"]);
    expect(planOf(bottled, docker)).toEqual(planOf(spec, docker));
    // Another bottle of the same agent (another name) is approved by the same approval.
    const other = resolveBottleSpec(agent(), { name: "claude-bottle-helper-ffffff", host });
    const digests = async (s: typeof spec) => (await approvalsNeeded(s, planOf(s, docker), docker)).map((r) => r.digest);
    expect(await digests(other)).toEqual(await digests(bottled));
    expect(() => withAdditions(bottled, bottled.additions)).toThrow();
  });
});
