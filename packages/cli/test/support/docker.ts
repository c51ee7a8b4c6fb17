import { execFileSync } from "node:child_process";

/** `docker` on the command line, for checking what the CLI left on the engine. */
export function docker(...args: string[]): string {
  return execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/**
 * Throws when no engine answers: these tests exercise the real thing and must
 * fail, not skip, on a machine without Docker.
 */
export function requireDocker(): void {
  try {
    docker("info", "--format", "{{.ServerVersion}}");
  } catch (error) {
    throw new Error("These tests need a running Docker engine (docker info failed). Start one: sudo dockerd.", {
      cause: error,
    });
  }
}

/** Names of every container, running or not, whose command line contains `text`. */
export function containersRunning(text: string): string[] {
  return docker("ps", "-a", "--no-trunc", "--format", "{{.Names}}\t{{.Command}}")
    .split("\n")
    .filter((line) => line.includes(text))
    .map((line) => line.split("\t")[0]!);
}

export function containersLabelled(label: string): string[] {
  return docker("ps", "-a", "--filter", `label=${label}`, "--format", "{{.Names}}").split("\n").filter(Boolean);
}

/** Removes the home volumes of bottles run in `projectDir` (homes are per agent and per project). */
export function removeHomesOf(projectDir: string): void {
  const names = docker("volume", "ls", "-q", "--filter", `label=dev.claude-bottle.home-project=${projectDir}`).split("\n").filter(Boolean);
  if (names.length) docker("volume", "rm", "-f", ...names);
}

/** Removes the images these agents' starts built: shared with the other packages' tests. */
export { removeAgentTraces } from "@claude-bottle/test-support";
