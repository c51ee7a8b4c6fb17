import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // The tests run the built CLI as a process, and some build images on a real engine.
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
