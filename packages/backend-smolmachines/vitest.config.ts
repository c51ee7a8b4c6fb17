import { defineConfig } from "vitest/config";

/**
 * The smolvm releases the test double imitates (SMOLVM.md): the suite runs
 * once against each. Files that never run smolvm run with the first only.
 */
export const DOUBLE_VERSIONS = ["1.9.2", "1.23.7"] as const;
const SMOLVM_FREE = ["test/egress-policy.test.ts", "test/local-registry.engine.test.ts", "test/artifact-cache.test.ts", "test/machines.test.ts", "test/desktop-insecure-registry.engine.test.ts"];
/** Files that need a Docker engine are named `*.engine.test.ts`; the "unit" projects, which `pnpm test:unit` runs without Docker, take the others. */
export const ENGINE = "test/**/*.engine.test.ts";

export default defineConfig({
  test: {
    // Packs pull and push real images through a real engine.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // The files share one engine and assert on its registry containers: one file at a time.
    fileParallelism: false,
    globalSetup: ["test/global-setup.ts"],
    projects: DOUBLE_VERSIONS.flatMap((version, index) =>
      (["unit", "engine"] as const).map((kind) => ({
        extends: true,
        test: {
          name: `${kind} smolvm ${version}`,
          include: kind === "unit" ? ["test/**/*.test.ts"] : [ENGINE],
          exclude: [...(kind === "unit" ? [ENGINE] : []), ...(index === 0 ? [] : SMOLVM_FREE)],
          env: { SMOLVM_DOUBLE_VERSION: version },
        },
      })),
    ),
  },
});
