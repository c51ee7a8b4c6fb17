import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Packs pull and push real images through a real engine.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // The files share one engine and assert on its registry containers: one file at a time.
    fileParallelism: false,
  },
});
