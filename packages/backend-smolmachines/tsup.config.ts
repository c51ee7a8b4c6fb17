import { defineConfig } from "tsup";

export default defineConfig({
  entry: { index: "src/index.ts", "local-registry": "src/local-registry.ts" },
  format: ["esm"],
  dts: true,
  clean: true,
  target: "node20",
  sourcemap: true,
});
