import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadBackend, requireCapability, type LoadBackendOptions } from "../src/index.js";
import { bottleErrorOf } from "../src/testing/index.js";

/** A backend as a third party would publish it: plain ESM, no dependency on this workspace. */
function backendSource(name: string, extra = ""): string {
  return `
export default function create(options) {
  return {
    apiVersion: 1,
    name: ${JSON.stringify(name)},
    capabilities: ["doctor"],
    options,
    async prepare(agent) { return { agent }; },
    async launch() { return { detached: false, name: "x", exitCode: 0 }; },
    async doctor() { return [{ name: "ok", ok: true, detail: "fine" }]; },
    ${extra}
  };
}`;
}

/** Writes a package into `<dir>/node_modules/<name>` with an ESM-only exports map. */
function installPackage(dir: string, name: string, source: string, manifest: Record<string, unknown> = {}) {
  const packageDir = join(dir, "node_modules", name);
  mkdirSync(join(packageDir, "dist"), { recursive: true });
  writeFileSync(
    join(packageDir, "package.json"),
    JSON.stringify({ name, version: "1.0.0", type: "module", exports: { ".": { import: "./dist/index.js" } }, ...manifest }),
  );
  writeFileSync(join(packageDir, "dist", "index.js"), source);
  return packageDir;
}

function setup() {
  const root = mkdtempSync(join(tmpdir(), "cb-loader-"));
  const project = join(root, "project");
  const deepCwd = join(project, "packages", "app");
  const host = join(root, "cli-install");
  mkdirSync(deepCwd, { recursive: true });
  mkdirSync(host, { recursive: true });
  const builtinCalls: string[] = [];
  const options = (patch: Partial<LoadBackendOptions> = {}): LoadBackendOptions => ({
    env: {},
    projectDir: deepCwd,
    hostDir: host,
    builtins: {
      docker: async () => {
        builtinCalls.push("docker");
        return { default: () => ({ apiVersion: 1, name: "docker", capabilities: [], prepare: async () => ({}), launch: async () => ({}) }) };
      },
      smolmachines: async () => ({ default: () => ({ apiVersion: 1, name: "smolmachines", capabilities: [], prepare: async () => ({}), launch: async () => ({}) }) }),
    },
    ...patch,
  });
  return { root, project, host, options, builtinCalls };
}


describe("loadBackend", () => {
  it("defaults to docker, then CLAUDE_BOTTLE_BACKEND, then --backend", async () => {
    const t = setup();
    expect((await loadBackend(t.options())).backend.name).toBe("docker");
    expect((await loadBackend(t.options({ env: { CLAUDE_BOTTLE_BACKEND: "smolmachines" } }))).backend.name).toBe("smolmachines");
    expect(
      (await loadBackend(t.options({ name: "docker", env: { CLAUDE_BOTTLE_BACKEND: "smolmachines" } }))).backend.name,
    ).toBe("docker");
  });

  it("imports a built-in only when it is selected", async () => {
    const t = setup();
    await loadBackend(t.options({ name: "smolmachines" }));
    expect(t.builtinCalls).toEqual([]);
  });

  it("finds a third-party package installed only in the user's project, by short and by full name", async () => {
    const t = setup();
    const packageDir = installPackage(t.project, "claude-bottle-backend-acme", backendSource("acme"));
    for (const name of ["acme", "claude-bottle-backend-acme"]) {
      const loaded = await loadBackend(t.options({ name, factoryOptions: { region: "x" } }));
      expect(loaded.backend.name).toBe("acme");
      expect(loaded.source).toBe(join(packageDir, "dist", "index.js"));
      expect((loaded.backend as unknown as { options: unknown }).options).toEqual({ region: "x" });
    }
    const viaEnv = await loadBackend(t.options({ env: { CLAUDE_BOTTLE_BACKEND: "acme" } }));
    expect(viaEnv.backend.name).toBe("acme");
  });

  it("prefers @claude-bottle/backend-NAME over claude-bottle-backend-NAME, and the project over the CLI's install", async () => {
    const t = setup();
    installPackage(t.project, "claude-bottle-backend-acme", backendSource("unscoped"));
    installPackage(t.host, "@claude-bottle/backend-acme", backendSource("host-scoped"));
    expect((await loadBackend(t.options({ name: "acme" }))).backend.name).toBe("unscoped");
    installPackage(t.project, "@claude-bottle/backend-acme", backendSource("project-scoped"));
    expect((await loadBackend(t.options({ name: "acme" }))).backend.name).toBe("project-scoped");
  });

  it("falls back to the CLI's own install", async () => {
    const t = setup();
    installPackage(t.host, "claude-bottle-backend-bundled", backendSource("bundled"));
    expect((await loadBackend(t.options({ name: "bundled" }))).backend.name).toBe("bundled");
  });

  it("takes a full package specifier or a path", async () => {
    const t = setup();
    installPackage(t.project, "@acme/sandbox", backendSource("scoped-specifier"));
    expect((await loadBackend(t.options({ name: "@acme/sandbox" }))).backend.name).toBe("scoped-specifier");
    const file = join(t.root, "local-backend.mjs");
    writeFileSync(file, backendSource("from-path"));
    expect((await loadBackend(t.options({ name: file }))).backend.name).toBe("from-path");
    const packageDir = installPackage(t.root, "by-dir", backendSource("from-dir"));
    expect((await loadBackend(t.options({ name: packageDir }))).backend.name).toBe("from-dir");
    expect(dirname(packageDir)).toBe(join(t.root, "node_modules"));
  });

  it("says what to install when nothing resolves", async () => {
    const t = setup();
    const error = await bottleErrorOf(loadBackend(t.options({ name: "podman" })));
    expect(error.code).toBe("BACKEND_NOT_FOUND");
    expect(error.message).toContain('"podman"');
    expect(error.hint).toContain("docker, smolmachines");
    expect(error.hint).toContain("npm i -D @claude-bottle/backend-podman");
    expect(error.hint).toContain("claude-bottle-backend-podman");
  });

  it("refuses a package without a factory as its default export", async () => {
    const t = setup();
    installPackage(t.project, "claude-bottle-backend-noexport", "export const backend = {};");
    const error = await bottleErrorOf(loadBackend(t.options({ name: "noexport" })));
    expect(error.code).toBe("BACKEND_INVALID");
    expect(error.message).toContain("default-export a factory");
  });

  it("refuses a backend that speaks another contract version", async () => {
    const t = setup();
    installPackage(t.project, "claude-bottle-backend-future", backendSource("future").replace("apiVersion: 1", "apiVersion: 2"));
    const error = await bottleErrorOf(loadBackend(t.options({ name: "future" })));
    expect(error.code).toBe("BACKEND_API_VERSION");
    expect(error.message).toContain("version 2");
    expect(error.message).toContain("speaks version 1");
  });

  it("reports a package that throws while it is imported", async () => {
    const t = setup();
    installPackage(t.project, "claude-bottle-backend-broken", 'throw new Error("missing native module");');
    const error = await bottleErrorOf(loadBackend(t.options({ name: "broken" })));
    expect(error.code).toBe("BACKEND_IMPORT_FAILED");
    expect(error.message).toContain("missing native module");
    expect((error.cause as Error).message).toBe("missing native module");
  });

  it("refuses a backend that advertises an operation it does not implement", async () => {
    const t = setup();
    installPackage(t.project, "claude-bottle-backend-liar", backendSource("liar").replace('["doctor"]', '["doctor", "list"]'));
    const error = await bottleErrorOf(loadBackend(t.options({ name: "liar" })));
    expect(error.code).toBe("BACKEND_INVALID");
    expect(error.message).toContain("advertises list");
  });

  it("requireCapability hands out advertised operations and refuses the rest", async () => {
    const t = setup();
    installPackage(t.project, "claude-bottle-backend-acme", backendSource("acme"));
    const { backend } = await loadBackend(t.options({ name: "acme" }));
    const doctor = requireCapability(backend, "doctor");
    expect(await doctor({} as never)).toEqual([{ name: "ok", ok: true, detail: "fine" }]);
    const error = await bottleErrorOf((async () => requireCapability(backend, "list"))());
    expect(error.code).toBe("UNSUPPORTED");
    expect(error.message).toContain("acme");
  });
});
