import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Builds against a real engine can be slow on a cold cache.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // Files share one engine; running them one at a time keeps image and volume assertions deterministic.
    fileParallelism: false,
  },
});
