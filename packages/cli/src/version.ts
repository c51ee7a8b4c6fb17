import { readFileSync } from "node:fs";

/**
 * The CLI's version, read from its package.json on demand. Read rather than
 * inlined at build time so a changeset version bump can never leave a stale
 * number in an unrebuilt dist.
 */
export function cliVersion(): string {
  // From dist/<chunk>.js and from src/version.ts alike, the manifest is one level up.
  const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  return manifest.version;
}
