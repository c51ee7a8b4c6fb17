import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // The plugin test packs tarballs and runs npm install against the registry.
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
