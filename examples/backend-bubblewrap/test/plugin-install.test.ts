import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";

/**
 * The whole path an outsider's backend takes: packed like a publish, installed
 * with npm into a project that has never seen this workspace, and found there
 * by core's plugin loader under the name a user types.
 */

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const coreDir = join(packageDir, "..", "..", "packages", "core");

function run(file: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { cwd, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${file} ${args.join(" ")} failed in ${cwd}: ${error.message}\n${stdout}\n${stderr}`)) : resolve(stdout),
    ),
  );
}

/** `pnpm pack` into `destination`; returns the tarball's path. */
async function pack(dir: string, destination: string): Promise<string> {
  const before = new Set(readdirSync(destination));
  await run("pnpm", ["pack", "--pack-destination", destination], dir);
  const created = readdirSync(destination).find((file) => !before.has(file) && file.endsWith(".tgz"));
  if (!created) throw new Error(`pnpm pack in ${dir} produced no tarball`);
  return join(destination, created);
}

// What a user's program does with the installed packages: load the backend by name, start a bottle.
const userProgram = `
import { silentLogger } from "@claude-bottle/core";
import { loadBackend, resolveBottleSpec } from "@claude-bottle/core/host";
const [hostDir, cacheDir] = process.argv.slice(2);
const { backend, source } = await loadBackend({ name: "bubblewrap", env: {}, projectDir: process.cwd(), hostDir, builtins: {} });
const ctx = { emit() {}, signal: new AbortController().signal, cacheDir, env: process.env, cwd: process.cwd(), logger: silentLogger };
const agent = {
  slug: "from-npm", origin: "project", image: { kind: "ref", ref: "host" },
  command: ["sh", "-c", 'echo "agent ran in $(pwd)"; exit 7'], args: [],
  workspace: process.cwd(), mounts: [], env: [], network: false, resources: {},
};
const stdio = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
// The host resolves the spec (hard limits, defaults, the bottle's name); the backend runs it.
const spec = resolveBottleSpec(agent, { name: "claude-bottle-from-npm-0a0b0c", host: { home: process.env.HOME ?? "/nonexistent", env: process.env } });
const launched = await backend.launch(await backend.prepare(spec, ctx), { extraArgs: [], detach: false, stdio }, ctx);
console.log("RESULT " + JSON.stringify({ source, name: backend.name, exitCode: launched.exitCode }));
`;

describe("installed from its tarball into a user's project", () => {
  let project: string;

  beforeAll(async () => {
    // The tarballs hold dist/: the test task builds first (turbo's test depends on build).
    for (const dir of [packageDir, coreDir]) {
      if (!existsSync(join(dir, "dist", "index.js"))) throw new Error(`${dir}/dist is missing: run pnpm build first.`);
    }
    const tarballs = mkdtempSync(join(tmpdir(), "bubblewrap-tarballs-"));
    const coreTarball = await pack(coreDir, tarballs);
    const backendTarball = await pack(packageDir, tarballs);

    project = realpathSync(mkdtempSync(join(tmpdir(), "bubblewrap-user-project-")));
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "user-project", private: true, type: "module" }, null, 2));
    await run("npm", ["install", "--save-dev", "--no-audit", "--no-fund", "--loglevel=error", coreTarball, backendTarball], project);
    writeFileSync(join(project, "start-bottle.mjs"), userProgram);
  });

  it("ships a real version range for its core peer, not a workspace: one", () => {
    const manifest = JSON.parse(readFileSync(join(project, "node_modules", "claude-bottle-backend-bubblewrap", "package.json"), "utf8"));
    expect(manifest.peerDependencies["@claude-bottle/core"]).toMatch(/^>=\d+\.\d+\.\d+ <1\.0\.0$/);
    expect(manifest.keywords).toContain("claude-bottle-backend");
    expect(JSON.stringify(manifest)).not.toContain("workspace:");
  });

  it("is found by core's loader as claude-bottle-backend-bubblewrap and runs a bottle", async () => {
    const unrelatedHostDir = mkdtempSync(join(tmpdir(), "bubblewrap-host-dir-"));
    const cacheDir = mkdtempSync(join(tmpdir(), "bubblewrap-user-cache-"));
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile("node", ["start-bottle.mjs", unrelatedHostDir, cacheDir], { cwd: project }, (error, out, err) =>
        error ? reject(new Error(`${error.message}\n${out}\n${err}`)) : resolve(out),
      ),
    );
    expect(stdout).toContain("agent ran in /workspace");
    const result = JSON.parse(stdout.split("RESULT ")[1]!);
    expect(result).toEqual({
      source: join(project, "node_modules", "claude-bottle-backend-bubblewrap", "dist", "index.js"),
      name: "bubblewrap",
      exitCode: 7,
    });
  });
});
