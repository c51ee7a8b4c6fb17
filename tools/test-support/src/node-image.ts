import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { copyHostBinaries } from "./host-binaries.js";

/** The tag of the offline stand-in for the official Node image the egress sidecar runs. */
export const TEST_NODE_IMAGE = "claude-bottle-test/node:local";

/**
 * Builds (once; the engine caches every step) an image holding only this
 * machine's node binary and its libraries, `FROM scratch`: what the egress
 * proxy needs from `node:20-bookworm-slim`, without pulling anything. Returns
 * its tag, for CLAUDE_BOTTLE_PROXY_IMAGE or the backend's option.
 */
export function buildTestNodeImage(): string {
  const dir = mkdtempSync(join(tmpdir(), "claude-bottle-node-image-"));
  copyHostBinaries(join(dir, "rootfs"), [process.execPath]);
  writeFileSync(
    join(dir, "Dockerfile"),
    ["FROM scratch", "COPY rootfs/ /", `ENV PATH=${join(process.execPath, "..")}:/usr/bin:/bin`, 'LABEL dev.claude-bottle.test="true"', 'CMD ["node"]'].join("\n"),
  );
  execFileSync("docker", ["build", "-q", "-t", TEST_NODE_IMAGE, dir], { stdio: ["ignore", "ignore", "pipe"] });
  execFileSync("rm", ["-rf", dir]);
  return TEST_NODE_IMAGE;
}
