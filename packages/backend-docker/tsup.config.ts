import { defineConfig } from "tsup";

export default defineConfig({
  // The second entry runs in a detached process of its own (see src/egress/remove-detached.ts).
  entry: { index: "src/index.ts", "egress/remove-detached": "src/egress/remove-detached.ts" },
  format: ["esm"],
  dts: true,
  clean: true,
  target: "node20",
  sourcemap: true,
});
