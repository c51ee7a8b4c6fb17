import { defineConfig } from "vitest/config";

/** Files that never reach an engine: `pnpm test:unit` runs them where no Docker is installed. */
export const UNIT = ["test/create-options.test.ts"];

export default defineConfig({
  test: {
    // Builds against a real engine can be slow on a cold cache.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // Files share one engine; running them one at a time keeps image and volume assertions deterministic.
    fileParallelism: false,
    projects: [
      { extends: true, test: { name: "unit", include: UNIT } },
      { extends: true, test: { name: "engine", include: ["test/**/*.test.ts"], exclude: UNIT } },
    ],
  },
});
