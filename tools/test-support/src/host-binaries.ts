import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * Copies host executables and the shared libraries `ldd` names into
 * `rootfs`, at the same paths, so a `FROM scratch` image can run them: the
 * machine's own git or node in a test image, with no registry and no network.
 */
export function copyHostBinaries(rootfs: string, binaries: readonly string[]): void {
  const copy = (path: string) => {
    const target = join(rootfs, path);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(realpathSync(path), target);
  };
  const libraries = new Set<string>();
  for (const binary of binaries) {
    copy(binary);
    for (const line of execFileSync("ldd", [binary], { encoding: "utf8" }).split("\n")) {
      const library = /(\/\S+) \(0x/.exec(line)?.[1];
      if (library) libraries.add(library);
    }
  }
  for (const library of libraries) copy(library);
}
