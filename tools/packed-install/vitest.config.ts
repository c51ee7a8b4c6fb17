import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // npm installs from tarballs and Docker builds: minutes, not seconds.
    testTimeout: 300_000,
    hookTimeout: 600_000,
  },
});
