import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const REPO = join(import.meta.dirname, "..", "..", "..");

/** The published packages, by directory. */
export const PACKAGES = {
  core: "packages/core",
  egressProxy: "packages/egress-proxy",
  engine: "packages/docker-engine",
  docker: "packages/backend-docker",
  smolmachines: "packages/backend-smolmachines",
  cli: "packages/cli",
  bubblewrap: "examples/backend-bubblewrap",
} as const;

/** `pnpm pack` of one package into a directory of its own; returns the tarball's path. */
export function pack(packageDir: string): string {
  const destination = mkdtempSync(join(tmpdir(), "claude-bottle-tarball-"));
  execFileSync("pnpm", ["pack", "--pack-destination", destination], { cwd: join(REPO, packageDir), stdio: "pipe" });
  const created = readdirSync(destination).find((f) => f.endsWith(".tgz"));
  if (!created) throw new Error(`pnpm pack of ${packageDir} wrote no tarball`);
  return join(destination, created);
}

/** The package.json inside a tarball. */
export function manifestOf(tarball: string): Record<string, unknown> {
  return JSON.parse(execFileSync("tar", ["-xzOf", tarball, "package/package.json"], { encoding: "utf8" }));
}

/**
 * An empty project outside the workspace with the tarballs installed by npm:
 * no workspace protocol, no links, third-party dependencies from the registry.
 */
export function installIntoEmptyProject(tarballs: string[]): string {
  const project = mkdtempSync(join(tmpdir(), "claude-bottle-packed-"));
  mkdirSync(project, { recursive: true });
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "user-project", private: true, type: "module" }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ...tarballs], {
    cwd: project,
    stdio: "pipe",
    env: { ...process.env, npm_config_workspaces: "false" },
  });
  return project;
}
