import { defineConfig } from "vitest/config";

/** Files that need a Docker engine are named `*.engine.test.ts`; the others run the CLI against the fake backend (`pnpm test:unit`). */
export const ENGINE = ["test/**/*.engine.test.ts"];

export default defineConfig({
  test: {
    // The tests run the built CLI as a process, and some build images on a real engine.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    projects: [
      { extends: true, test: { name: "unit", include: ["test/**/*.test.ts"], exclude: ENGINE } },
      { extends: true, test: { name: "engine", include: ENGINE } },
    ],
  },
});
