import { fileURLToPath } from "node:url";

/**
 * The CLI package's own directory: where its built-in agents live and where
 * backends installed next to the CLI are resolved from. Every built module
 * sits one level below it (dist/), as does every source module (src/).
 */
export function cliPackageDir(): string {
  return fileURLToPath(new URL("..", import.meta.url));
}
