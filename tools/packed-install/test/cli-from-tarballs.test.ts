import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { busyboxContext } from "@claude-bottle/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installIntoEmptyProject, manifestOf, pack, PACKAGES, REPO } from "./pack.js";

describe("the CLI installed from its tarballs", () => {
  const tarballs: Record<string, string> = {};
  let project: string;
  let bin: string;
  /** The project's own approvals, kept out of the user's. */
  let env: NodeJS.ProcessEnv;
  /** The project agents below are untrusted until approved, as a user would (trust --yes). */
  const approve = (agent: string, backend: string) =>
    execFileSync(bin, ["--backend", backend, "trust", agent, "--yes"], { cwd: project, encoding: "utf8", env });

  beforeAll(() => {
    for (const [key, dir] of Object.entries(PACKAGES)) tarballs[key] = pack(dir);
    project = installIntoEmptyProject(Object.values(tarballs));
    bin = join(project, "node_modules", ".bin", "claude-bottle");
    // Outside the project: a workspace never overlaps where approvals are kept.
    const home = mkdtempSync(join(tmpdir(), "claude-bottle-packed-home-"));
    env = { ...process.env, XDG_STATE_HOME: join(home, "state"), XDG_CONFIG_HOME: join(home, "config"), CI: "1" };
  });

  afterAll(() => {
    if (env?.XDG_STATE_HOME) rmSync(join(env.XDG_STATE_HOME, ".."), { recursive: true, force: true });
    // What the docker start made: the agent's image and home volume.
    const images = spawnSync("docker", ["images", "-q", "claude-bottle/packed"], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
    if (images.length) spawnSync("docker", ["rmi", "-f", ...new Set(images)]);
    spawnSync("docker", ["volume", "rm", "claude-bottle-home-packed"]);
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
    // A user's agent: a project's may build only from inside the project, and this context is elsewhere.
    const agents = join(env.XDG_CONFIG_HOME!, "claude-bottle", "agents");
    mkdirSync(agents, { recursive: true });
    const context = busyboxContext();
    writeFileSync(join(agents, "packed.yaml"), `build: { dockerfile: ${context}/Dockerfile, context: ${context} }\ncommand: [/bin/busybox]\nnetwork: false\n`);
    writeFileSync(join(project, "hello.txt"), "from the workspace");
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
    mkdirSync(join(project, ".claude-bottle", "agents"), { recursive: true });
    writeFileSync(join(project, ".claude-bottle", "agents", "host.yaml"), "image: host\ncommand: [sh, -c]\n");
    approve("host", "bubblewrap");
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
