import { execFileSync } from "node:child_process";
import { TEST_RUN_LABEL } from "./run-labels.js";

const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

/**
 * Removes the images that starting these agents left on the engine by design
 * (`claude-bottle/<slug>`, kept so the next start is warm), so a test leaves
 * the engine as it found it. Under scripts/test: every image of these agents
 * that this run built, untagged ones included, and nothing of another run's
 * (which may share the tags). Returns how many it removed.
 */
export function removeAgentTraces(slugs: Iterable<string>, { shared = false }: { shared?: boolean } = {}): number {
  const run = process.env.CLAUDE_BOTTLE_TEST_RUN;
  // A name a real user's agent has too (claude): only what this run built.
  if (shared && !run) return 0;
  let removed = 0;
  for (const slug of slugs) {
    const images = run
      ? docker("images", "-a", "-q", "--filter", `label=${TEST_RUN_LABEL}=${run}`, "--filter", `label=dev.claude-bottle.agent=${slug}`)
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
