import { phase, type BackendContext } from "@claude-bottle/core";
import type { DockerConnection } from "@claude-bottle/docker-engine";
import { statusCodeOf } from "@claude-bottle/docker-engine";
import { pullImage } from "@claude-bottle/docker-engine";

/**
 * The official Node image the egress proxy runs in, pinned by digest (the
 * multi-platform index, so arm64 hosts get theirs): a tag can be moved under
 * us, a digest cannot. The proxy itself is one file of ours, mounted in.
 */
export const PINNED_PROXY_IMAGE = "node:20-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0";

/** CLAUDE_BOTTLE_PROXY_IMAGE (air-gapped machines, tests), else the pinned image. */
export function proxyImageRef(env: Readonly<Record<string, string | undefined>>): string {
  return env.CLAUDE_BOTTLE_PROXY_IMAGE?.trim() || PINNED_PROXY_IMAGE;
}

/** Pulls the proxy's image the first time; afterwards one inspect. */
export async function ensureProxyImage(connection: DockerConnection, ref: string, ctx: Pick<BackendContext, "emit" | "signal">): Promise<void> {
  try {
    await connection.api.json("GET", `/images/${encodeURIComponent(ref)}/json`);
    return;
  } catch (error) {
    if (statusCodeOf(error) !== 404) throw error;
  }
  await phase(ctx, "pull", `Pulling the egress proxy's image ${ref}`, () =>
    pullImage(connection.docker, ref, ctx, "Or set CLAUDE_BOTTLE_PROXY_IMAGE to an image this engine already has, with Node.js 20 or newer on its PATH."),
  );
}
