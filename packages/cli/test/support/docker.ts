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

/**
 * Removes the images starting these agents left on the engine by design
 * (`claude-bottle/<slug>`), so a test run leaves the engine as it found it;
 * their homes go with removeHomesOf. Under scripts/test, every image of these
 * agents that this run built, untagged ones included, and nothing of another
 * run's (which may share the tags). Returns how many it removed.
 */
export function removeAgentTraces(slugs: Iterable<string>, { shared = false }: { shared?: boolean } = {}): number {
  const run = process.env.CLAUDE_BOTTLE_TEST_RUN;
  // A name a real user's agent has too (claude): only what this run built.
  if (shared && !run) return 0;
  let removed = 0;
  for (const slug of slugs) {
    const images = run
      ? docker("images", "-a", "-q", "--filter", `label=dev.claude-bottle.test-run=${run}`, "--filter", `label=dev.claude-bottle.agent=${slug}`)
      : docker("images", "-q", `claude-bottle/${slug}`);
    for (const id of new Set(images.split("\n").filter(Boolean))) {
      try {
        docker("rmi", "-f", id);
        removed++;
      } catch {
        // Shared with another tag or already gone (with a child removed before it).
      }
    }
  }
  return removed;
}
