import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectDocker } from "@claude-bottle/docker-engine";

/**
 * This run's suffix for agent slugs (see testSlug in support.ts): another run
 * of these tests on the same engine makes the same slugs, and neither may take
 * the other's images away.
 */
const SUFFIX = String(process.pid);
/** Tags this run's tests make (agent slugs smol-*-SUFFIX, and the images of the registry tests). */
const OWN_TAG = new RegExp(`^(claude-bottle/smol-[a-z-]+-${SUFFIX}:|claude-bottle-test/(silent|exits-at-once|registry-readonly):t-${SUFFIX}$)`);
/** Labels the tests put on the images they build to make them new (busyboxContext lines). */
const OWN_LABELS = ["test.marker", "m"];

/**
 * A run leaves nothing behind: every temporary directory of the run is made
 * under one of its own, removed at the end, and the images the run built are
 * removed (by their tags, and the untagged ones by the labels the tests give
 * them), so that the engine is as the run found it.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const started = Math.floor(Date.now() / 1000) - 1;
  const dir = mkdtempSync(join(tmpdir(), "smolmachines-tests-"));
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  process.env.SMOL_TEST_SLUG_SUFFIX = SUFFIX;
  return async () => {
    process.env.TMPDIR = previous;
    rmSync(dir, { recursive: true, force: true });
    // The engine-free project runs where no engine answers: it built nothing to remove.
    const connection = await connectDocker().catch(() => undefined);
    if (!connection) return;
    const { docker } = connection;
    const images = await docker.listImages({ all: false });
    for (const image of images.filter((i) => i.Created >= started)) {
      const tags = (image.RepoTags ?? []).filter((t) => t !== "<none>:<none>");
      // Under scripts/test an image of another run (its own label) is never ours, whatever its tags.
      const run = process.env.CLAUDE_BOTTLE_TEST_RUN;
      if (run && image.Labels?.["dev.claude-bottle.test-run"] !== run) continue;
      // Untagged: ours by the labels the tests give, or (under scripts/test) by the run's own label, checked above.
      const ours = tags.length > 0 ? tags.every((t) => OWN_TAG.test(t)) : run !== undefined || OWN_LABELS.some((l) => image.Labels?.[l] !== undefined);
      if (!ours) continue;
      for (const tag of tags) await docker.getImage(tag).remove({ noprune: false }).catch(() => {});
      if (tags.length === 0) await docker.getImage(image.Id).remove().catch(() => {});
    }
  };
}
