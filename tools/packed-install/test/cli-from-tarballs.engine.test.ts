import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { busyboxContext } from "@claude-bottle/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installIntoEmptyProject, manifestOf, pack, PACKAGES, REPO } from "./pack.js";

describe("the CLI installed from its tarballs", () => {
  const tarballs: Record<string, string> = {};
  let project: string;
  let bin: string;

  // Approvals of this test's project agents and backend go to a state directory of its own.
  const env = { ...process.env, CI: "1", XDG_STATE_HOME: mkdtempSync(join(tmpdir(), "claude-bottle-packed-state-")) };
  const approve = (backend: string) => execFileSync(bin, ["--backend", backend, "trust", "--yes"], { cwd: project, env, stdio: "pipe" });

  beforeAll(() => {
    for (const [key, dir] of Object.entries(PACKAGES)) tarballs[key] = pack(dir);
    project = installIntoEmptyProject(Object.values(tarballs));
    bin = join(project, "node_modules", ".bin", "claude-bottle");
  });

  afterAll(() => {
    rmSync(env.XDG_STATE_HOME, { recursive: true, force: true });
    // What the docker start made: the agent's image and its home for this project.
    const images = spawnSync("docker", ["images", "-q", "claude-bottle/packed"], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
    if (images.length) spawnSync("docker", ["rmi", "-f", ...new Set(images)]);
    const homes = spawnSync("docker", ["volume", "ls", "-q", "--filter", `label=dev.claude-bottle.home-project=${realpathSync(project)}`], { encoding: "utf8" })
      .stdout.split("\n")
      .filter(Boolean);
    if (homes.length) spawnSync("docker", ["volume", "rm", "-f", ...homes]);
  });

  it("carries real versions wherever the workspace had workspace: ranges", () => {
    for (const [key, tarball] of Object.entries(tarballs)) {
      const manifest = manifestOf(tarball);
      const text = JSON.stringify(manifest);
      expect(text, `${key} still has a workspace: range`).not.toContain("workspace:");
      for (const field of ["dependencies", "peerDependencies"] as const) {
        for (const [name, range] of Object.entries((manifest[field] ?? {}) as Record<string, string>)) {
          if (name.startsWith("@claude-bottle/") || name === "claude-bottle") {
            expect(range, `${key} ${field}.${name}`).toMatch(/\d+\.\d+\.\d+/);
          }
        }
      }
    }
  });

  it("answers --version with the CLI's version", () => {
    const version = JSON.parse(readFileSync(join(REPO, PACKAGES.cli, "package.json"), "utf8")).version;
    expect(execFileSync(bin, ["--version"], { cwd: project, encoding: "utf8" }).trim()).toContain(version);
  });

  it("lists the built-in backends as loadable", () => {
    const out = execFileSync(bin, ["backends", "--json"], { cwd: project, encoding: "utf8" });
    const backends = JSON.parse(out) as Array<{ name: string; loads: boolean; error: string | null }>;
    for (const name of ["docker", "smolmachines"]) {
      const entry = backends.find((b) => b.name === name);
      expect(entry, `${name} missing from ${out}`).toBeDefined();
      expect(entry?.error, `${name} failed to load`).toBeNull();
      expect(entry?.loads).toBe(true);
    }
  });

  it("starts a test agent on the docker backend and returns its exit code", () => {
    const agents = join(project, ".claude-bottle", "agents");
    mkdirSync(agents, { recursive: true });
    // A project's agent builds from inside the project only.
    cpSync(busyboxContext(), join(project, "agent-image"), { recursive: true });
    writeFileSync(join(agents, "packed.yaml"), "build: { dockerfile: ../../agent-image/Dockerfile, context: ../../agent-image }\ncommand: [/bin/busybox]\nnetwork: false\n");
    writeFileSync(join(project, "hello.txt"), "from the workspace");
    approve("docker");
    const result = spawnSync(bin, ["start", "packed", "--", "sh", "-c", "cat hello.txt; exit 3"], {
      cwd: project,
      encoding: "utf8",
      env: { ...env, CLAUDE_BOTTLE_BACKEND: "docker" },
    });
    expect(result.stderr).not.toContain("Error:");
    expect(result.stdout).toContain("from the workspace");
    expect(result.status).toBe(3);
  });

  it("loads a third-party backend installed in the project by its short name", () => {
    const listed = JSON.parse(execFileSync(bin, ["backends", "--json"], { cwd: project, encoding: "utf8" })) as Array<{ name: string }>;
    expect(listed.map((b) => b.name)).toContain("bubblewrap");
    writeFileSync(join(project, ".claude-bottle", "agents", "host.yaml"), "image: host\ncommand: [sh, -c]\n");
    // A backend from the project's node_modules is project code: approved with the agents before it runs.
    approve("bubblewrap");
    const result = spawnSync(bin, ["start", "host", "--", "pwd; cat hello.txt; exit 5"], {
      cwd: project,
      encoding: "utf8",
      env: { ...env, CLAUDE_BOTTLE_BACKEND: "bubblewrap" },
    });
    expect(result.stdout).toContain("/workspace");
    expect(result.stdout).toContain("from the workspace");
    expect(result.status).toBe(5);
  });
});
