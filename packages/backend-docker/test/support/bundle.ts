import { join } from "node:path";
import { build } from "tsup";

const packageRoot = join(import.meta.dirname, "..", "..");

/**
 * Bundles the current sources into one ES module and returns its path, for
 * tests that must run the backend in a plain Node child process (as another
 * user, or under a real terminal), which cannot load TypeScript. It lives in
 * the package's node_modules so that its dependencies resolve.
 */
export async function bundleForChildProcess(name: string): Promise<string> {
  const outDir = join(packageRoot, "node_modules", ".cache", "claude-bottle-test", name);
  await build({ entry: { index: join(packageRoot, "src", "index.ts") }, outDir, format: ["esm"], config: false, silent: true });
  return join(outDir, "index.js");
}
