import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { busyboxContext } from "./busybox.js";

/** The host's git, which tests copy into an image with the libraries it links: no registry, no network. */
export const GIT_BINARY = "/usr/bin/git";

/**
 * A build context for busybox plus the host's own git (and the shared
 * libraries `ldd` names), so a test can run `git add` and `git commit` inside
 * a bottle. Needs git on the host, as every machine that runs these tests has.
 */
export function busyboxGitContext(): string {
  const dir = busyboxContext("COPY rootfs/ /");
  const rootfs = join(dir, "rootfs");
  const copy = (path: string) => {
    const target = join(rootfs, path);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(realpathSync(path), target);
  };
  copy(GIT_BINARY);
  const libraries = execFileSync("ldd", [GIT_BINARY], { encoding: "utf8" })
    .split("\n")
    .map((line) => /(\/\S+) \(0x/.exec(line)?.[1])
    .filter((path): path is string => path !== undefined);
  for (const library of libraries) copy(library);
  return dir;
}
