import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_PIDS_LIMIT, defaultMemoryLimit, ENFORCEMENTS, ErrorCodes, requirementsOf, type BottleSpec, type ResolvedAgent } from "../src/index.js";
import { loadBackend } from "../src/host.js";
import { bottleErrorOf, createTestContext, testSpec } from "../src/testing/index.js";

/**
 * A backend written from the README by a third party, as its package would
 * ship: plain ESM that records whether its prepare ran. `enforces` is spliced
 * in as given (absent: it declares nothing).
 */
function installThirdParty(enforces?: unknown): { dir: string; prepared: () => boolean } {
  const root = mkdtempSync(join(tmpdir(), "cb-enforce-"));
  const marker = join(root, "prepared");
  const file = join(root, "backend.mjs");
  writeFileSync(
    file,
    `import { writeFileSync } from "node:fs";
export default () => ({
  apiVersion: 1,
  name: "acme",
  capabilities: [],
  ${enforces === undefined ? "" : `enforces: ${JSON.stringify(enforces)},`}
  async prepare(agent) { writeFileSync(${JSON.stringify(marker)}, "x"); return { backend: "acme", agent }; },
  async launch() { return { detached: false, name: "x", exitCode: 0 }; },
});`,
  );
  return { dir: file, prepared: () => existsSync(marker) };
}

const workspace = mkdtempSync(join(tmpdir(), "cb-enforce-ws-"));

/** An agent asking for every policy field there is (a user's own: a project's may not open private ranges). */
const asked: ResolvedAgent = {
  slug: "narrow",
  origin: "user",
  file: "/p/.claude-bottle/agents/narrow.yaml",
  image: { kind: "ref", ref: "x/y:1" },
  args: [],
  workspace,
  mounts: [{ source: workspace, target: "/ref", readOnly: true }],
  env: [],
  network: true,
  egress: { mode: "allow", allow: ["api.example.com:443"], deny: ["bad.example.com"], allowPrivate: ["10.1.0.0/16"] },
  credentials: [{ env: "TOKEN", hosts: ["api.example.com"] }],
  resources: { cpus: 2, memory: 3 * 2 ** 30 + 5, pids: 77 },
  ports: [{ host: 8080, bottle: 3000 }],
  hostServices: [5432],
};
const everything: BottleSpec = testSpec(asked);

async function load(enforces?: unknown) {
  const installed = installThirdParty(enforces);
  const { backend } = await loadBackend({ name: installed.dir, env: {}, projectDir: workspace, hostDir: workspace, builtins: {} });
  return { backend, prepared: installed.prepared };
}

describe("what a backend declares it enforces", () => {
  it("a backend that declares nothing gets every policy field refused, by field, before its prepare runs", async () => {
    const { backend, prepared } = await load();
    const error = await bottleErrorOf(backend.prepare(everything, createTestContext()));
    expect(error.code).toBe(ErrorCodes.POLICY_NOT_ENFORCED);
    expect(prepared()).toBe(false);
    for (const [field, enforcement] of [
      ["network.allow", "egress.allow"],
      ["network.deny", "egress.deny"],
      ["network.allowPrivate", "egress.allowPrivate"],
      ["network.allow", "egress.ports"],
      ["credentials", "credentials"],
      ["resources.cpus", "limits.cpus"],
      ["resources.memory", "limits.memory"],
      ["resources.pids", "limits.pids"],
      ["ports", "ports.publish"],
      ["network.host", "egress.host"],
    ]) {
      expect(error.message).toContain(`${field} needs a backend that enforces ${enforcement}; acme does not.`);
    }
    expect(error.message).toContain(everything.file);
    const offline = await bottleErrorOf(backend.prepare(testSpec({ ...asked, network: false, egress: undefined, credentials: undefined, resources: {} }), createTestContext()));
    expect(offline.message).toContain("network needs a backend that enforces network.none; acme does not.");
  });

  it("refuses only what is not declared, and runs prepare once every asked field is", async () => {
    const { backend } = await load(ENFORCEMENTS.filter((e) => e !== "egress.ports"));
    const error = await bottleErrorOf(backend.prepare(everything, createTestContext()));
    expect(error.message).toBe(`${everything.file}: network.allow needs a backend that enforces egress.ports; acme does not.`);
    const all = await load([...ENFORCEMENTS]);
    await expect(all.backend.prepare(everything, createTestContext())).resolves.toMatchObject({ backend: "acme" });
  });

  it("says the defaults it does not keep, and refuses none of them", async () => {
    const { backend } = await load(["network.none"]);
    const warned: string[] = [];
    const ctx = createTestContext({ logger: { debug: () => {}, info: () => {}, warn: (m) => warned.push(m) } });
    const defaults = testSpec({ ...asked, egress: { mode: "all", deny: [], allowPrivate: [] }, credentials: undefined, ports: undefined, hostServices: undefined, mounts: [], resources: {} });
    await expect(backend.prepare(defaults, ctx)).resolves.toMatchObject({ backend: "acme" });
    expect(warned).toEqual([
      "The acme backend does not keep: private addresses refused (the bottle reaches your LAN, this host and cloud metadata); the default memory limit; the default process limit; read-only git hooks, git config and .claude-bottle.",
    ]);
  });

  it("refuses a backend that declares an enforcement this core does not know", async () => {
    const error = await bottleErrorOf(load(["egress.allow", "egress.everything"]));
    expect(error.code).toBe(ErrorCodes.BACKEND_INVALID);
    expect(error.message).toContain('"egress.everything"');
    expect(error.hint).toContain("egress.allow");
  });

  it("reads a limit equal to core's default as the default, and any other as asked", () => {
    const sources = (resources: BottleSpec["resources"]) =>
      requirementsOf({ ...everything, resources }).filter((r) => r.enforcement.startsWith("limits.")).map((r) => `${r.enforcement}:${r.source}`);
    expect(sources({ memory: defaultMemoryLimit(), pids: DEFAULT_PIDS_LIMIT })).toEqual(["limits.memory:default", "limits.pids:default"]);
    expect(sources({ memory: 2 ** 30, pids: 10, cpus: 1 })).toEqual(["limits.cpus:asked", "limits.memory:asked", "limits.pids:asked"]);
  });
});
