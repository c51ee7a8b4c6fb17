import { defineConfig } from "vitest/config";

/** Files that need a Docker engine are named `*.engine.test.ts`; `pnpm test:unit` runs the others where no Docker is installed. */
export const ENGINE = "test/**/*.engine.test.ts";

export default defineConfig({
  test: {
    // Builds against a real engine can be slow on a cold cache.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // Files share one engine; running them one at a time keeps image and volume assertions deterministic.
    fileParallelism: false,
    projects: [
      { extends: true, test: { name: "unit", include: ["test/**/*.test.ts"], exclude: [ENGINE] } },
      { extends: true, test: { name: "engine", include: [ENGINE] } },
    ],
  },
});
