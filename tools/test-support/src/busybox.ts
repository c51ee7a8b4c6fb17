import { copyFileSync, existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ResolvedAgent } from "@claude-bottle/core";
import { scratchForThisRun } from "./run-labels.js";

/** Debian's busybox-static: one static binary, so an image needs no registry to build. */
export const BUSYBOX_BINARY = "/bin/busybox";

/**
 * A build context for a tiny image: `FROM scratch` + busybox with its applets
 * installed, so `sh`, `cat`, `sleep` and friends exist. No network needed.
 * `extraDockerfile` lines are appended (a label, a RUN) to make distinct images.
 * Under scripts/test every step carries the run's label, so whatever a test
 * leaves of it is found and named by the leftover check.
 */
export function busyboxContext(extraDockerfile = ""): string {
  if (!existsSync(BUSYBOX_BINARY)) {
    throw new Error(`${BUSYBOX_BINARY} is missing: install Debian's busybox-static (apt-get install busybox-static).`);
  }
  const dir = mkdtempSync(join(tmpdir(), "claude-bottle-busybox-"));
  copyFileSync(BUSYBOX_BINARY, join(dir, "busybox"));
  writeFileSync(
    join(dir, "Dockerfile"),
    [
      ...scratchForThisRun(),
      "COPY busybox /bin/busybox",
      'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
      "ENV PATH=/usr/local/bin:/usr/bin:/bin",
      'CMD ["/bin/sh"]',
      extraDockerfile,
    ].join("\n"),
  );
  return dir;
}

/** A resolved agent that builds the busybox image; tests override command, workspace, env. */
export function busyboxAgent(overrides: Partial<ResolvedAgent> = {}, contextDir = busyboxContext()): ResolvedAgent {
  return {
    slug: "busybox-test",
    origin: "project",
    image: { kind: "build", dockerfile: join(contextDir, "Dockerfile"), context: contextDir, args: {} },
    args: [],
    workspace: process.cwd(),
    mounts: [],
    env: [],
    network: false,
    resources: {},
    ...overrides,
  };
}
