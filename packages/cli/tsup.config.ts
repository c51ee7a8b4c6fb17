import { defineConfig } from "tsup";

export default defineConfig({
  // cli.ts is the process entry (bin.js imports it); index.ts is the library entry.
  entry: { cli: "src/cli.ts", index: "src/index.ts" },
  format: ["esm"],
  dts: { entry: { index: "src/index.ts" } },
  clean: true,
  target: "node20",
  sourcemap: true,
  // Each command is its own chunk, imported only when that command runs.
  splitting: true,
});
