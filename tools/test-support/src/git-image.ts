import { join } from "node:path";
import { busyboxContext } from "./busybox.js";
import { copyHostBinaries } from "./host-binaries.js";

/** The host's git, which tests copy into an image with the libraries it links: no registry, no network. */
export const GIT_BINARY = "/usr/bin/git";

/**
 * A build context for busybox plus the host's own git, so a test can run
 * `git add` and `git commit` inside a bottle. Needs git on the host, as every
 * machine that runs these tests has.
 */
export function busyboxGitContext(): string {
  const dir = busyboxContext("COPY rootfs/ /");
  copyHostBinaries(join(dir, "rootfs"), [GIT_BINARY]);
  return dir;
}
