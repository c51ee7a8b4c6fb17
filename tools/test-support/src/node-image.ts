import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { copyHostBinaries } from "./host-binaries.js";
import { scratchForThisRun, TEST_FIXTURE_LABEL } from "./run-labels.js";

/** The tag of the offline stand-in for the official Node image the egress sidecar runs. */
export const TEST_NODE_IMAGE = "claude-bottle-test/node:local";

/**
 * Builds (once; the engine caches every step) an image holding only this
 * machine's node binary and its libraries, `FROM scratch`: what the egress
 * proxy needs from `node:20-bookworm-slim`, without pulling anything. Returns
 * its tag, for CLAUDE_BOTTLE_PROXY_IMAGE or the backend's option. Under
 * scripts/test it is a fixture of the run, removed when the run ends.
 */
export function buildTestNodeImage(): string {
  const dir = mkdtempSync(join(tmpdir(), "claude-bottle-node-image-"));
  copyHostBinaries(join(dir, "rootfs"), [process.execPath]);
  writeFileSync(
    join(dir, "Dockerfile"),
    [
      ...scratchForThisRun(),
      "COPY rootfs/ /",
      `ENV PATH=${join(process.execPath, "..")}:/usr/bin:/bin`,
      `LABEL ${TEST_FIXTURE_LABEL}="node"`,
      'CMD ["node"]',
    ].join("\n"),
  );
  execFileSync("docker", ["build", "-q", "-t", TEST_NODE_IMAGE, dir], { stdio: ["ignore", "ignore", "pipe"] });
  execFileSync("rm", ["-rf", dir]);
  return TEST_NODE_IMAGE;
}
