import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { BackendCrash, type Stdio } from "../src/index.js";
import { findInstalledBackends, loadBackend, requireCapability, type LoadBackendOptions } from "../src/host.js";
import { bottleErrorOf, testSpec } from "../src/testing/index.js";

/** A backend as a third party would publish it: plain ESM, no dependency on this workspace. */
function backendSource(name: string, extra = ""): string {
  return `
export default function create(options) {
  return {
    apiVersion: 1,
    name: ${JSON.stringify(name)},
    capabilities: ["doctor"],
    options,
    async prepare(spec) { return { backend: ${JSON.stringify(name)}, spec }; },
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
      const loaded = await loadBackend(t.options({ name }));
      expect(loaded.backend.name).toBe("acme");
      expect(loaded.source).toBe(join(packageDir, "dist", "index.js"));
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

  it("does not prefix again a name that already carries a backend package's prefix", async () => {
    const t = setup();
    for (const name of ["claude-bottle-backend-zz", "@claude-bottle/backend-zz"]) {
      const error = await bottleErrorOf(loadBackend(t.options({ name })));
      expect(error.code).toBe("BACKEND_NOT_FOUND");
      expect(error.hint).toContain(`npm i -D ${name}.`);
      expect(error.hint).not.toMatch(/backend-claude-bottle|backend-@/);
    }
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

  it("calls an unknown capability unknown, not unimplemented", async () => {
    const t = setup();
    installPackage(t.project, "claude-bottle-backend-teleporter", backendSource("teleporter").replace('["doctor"]', '["doctor", "teleport"]'));
    const error = await bottleErrorOf(loadBackend(t.options({ name: "teleporter" })));
    expect(error.code).toBe("BACKEND_INVALID");
    expect(error.message).toContain('does not know: "teleport"');
    expect(error.hint).toContain("Known capabilities: detach, list");
  });

  it("says which path was missing, not which package to install, for a path", async () => {
    const t = setup();
    const error = await bottleErrorOf(loadBackend(t.options({ name: "./missing.mjs" })));
    expect(error.code).toBe("BACKEND_NOT_FOUND");
    expect(error.message).toContain(join(t.project, "packages", "app", "missing.mjs"));
    expect(error.hint).not.toContain("npm i");
    expect(error.hint).toContain("relative one starts from");
  });

  it("resolves exports patterns and nested conditions as Node does", async () => {
    const t = setup();
    installPackage(t.project, "@acme/backends", "", { exports: { "./*": { node: { import: "./dist/*.js" } } } });
    writeFileSync(join(t.project, "node_modules", "@acme/backends", "dist", "sandbox.js"), backendSource("patterned"));
    expect((await loadBackend(t.options({ name: "@acme/backends/sandbox" }))).backend.name).toBe("patterned");
  });

  it("blames a third-party backend's own crash on its package and its bugs URL", async () => {
    const t = setup();
    installPackage(t.project, "claude-bottle-backend-crashy", backendSource("crashy").replace("async doctor() {", "async doctor() { null.boom;"), {
      version: "2.3.4",
      bugs: { url: "https://example.test/crashy/issues" },
    });
    const { backend } = await loadBackend(t.options({ name: "crashy" }));
    const crash = await requireCapability(backend, "doctor")({} as never).catch((e: unknown) => e);
    expect(BackendCrash.isInstance(crash)).toBe(true);
    expect((crash as BackendCrash).origin).toEqual({
      name: "crashy",
      packageName: "claude-bottle-backend-crashy",
      version: "2.3.4",
      bugs: "https://example.test/crashy/issues",
    });
    expect((crash as BackendCrash).cause).toBeInstanceOf(TypeError);
  });

  // Asks for nothing a backend must declare: network with core's defaults, which are said rather than refused.
  const agent = testSpec({ slug: "a", origin: "user", image: { kind: "ref", ref: "x/y:1" }, args: [], workspace: "/tmp", network: true, mounts: [], env: [], resources: {} });
  const quiet = { logger: { debug() {}, info() {}, warn() {} } } as never;
  const stdio = {} as Stdio;

  it("checks what launch is given and what it returns", async () => {
    const t = setup();
    installPackage(
      t.project,
      "claude-bottle-backend-sloppy",
      backendSource("sloppy")
        .replace('return { backend: "sloppy", spec };', 'return { backend: spec.slug === "other" ? "docker" : spec.slug === "bare" ? undefined : "sloppy", spec };')
        .replace('return { detached: false, name: "x", exitCode: 0 };', 'return { detached: false, name: "x" };'),
    );
    const { backend } = await loadBackend(t.options({ name: "sloppy" }));
    const foreign = await backend.prepare({ ...agent, slug: "other" }, quiet);
    const mismatch = await bottleErrorOf(backend.launch(foreign, { extraArgs: [], detach: false, stdio }, {} as never));
    expect(mismatch.message).toContain("asked to launch what the docker backend prepared");
    const own = await backend.prepare(agent, quiet);
    const noExit = await bottleErrorOf(backend.launch(own, { extraArgs: [], detach: false, stdio }, {} as never));
    expect(noExit.code).toBe("BACKEND_INVALID");
    expect(noExit.message).toContain("no exit code");
    // Contract version 1 is settled: what prepare returns says which backend made it.
    const bare = await backend.prepare({ ...agent, slug: "bare" }, quiet);
    const unnamed = await bottleErrorOf(backend.launch(bare, { extraArgs: [], detach: false, stdio }, {} as never));
    expect(unnamed.code).toBe("BACKEND_INVALID");
    expect(unnamed.message).toContain("without `backend`");
  });

  it("refuses a backend that advertises homes without removeHome, which homes promises", async () => {
    const t = setup();
    installPackage(t.project, "claude-bottle-backend-homely", backendSource("homely", "async homes() { return []; },").replace('["doctor"]', '["doctor", "homes"]'));
    const error = await bottleErrorOf(loadBackend(t.options({ name: "homely" })));
    expect(error.code).toBe("BACKEND_INVALID");
    expect(error.message).toContain("advertises homes but does not implement removeHome");
  });

});

describe("findInstalledBackends", () => {
  it("lists backend packages by name in every node_modules up from each directory, and nothing else", async () => {
    const t = setup();
    installPackage(t.project, "claude-bottle-backend-acme", "");
    installPackage(t.project, "@claude-bottle/backend-zed", "");
    installPackage(t.project, "@claude-bottle/core", "");
    installPackage(t.host, "claude-bottle-backend-bundled", "");
    installPackage(t.project, "claude-bottle-backend-", "");
    installPackage(t.project, "unrelated", "");
    expect(await findInstalledBackends([join(t.project, "packages", "app"), t.host])).toEqual([
      "@claude-bottle/backend-zed",
      "claude-bottle-backend-acme",
      "claude-bottle-backend-bundled",
    ]);
  });
});

