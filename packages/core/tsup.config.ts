import { defineConfig } from "tsup";

export default defineConfig({
  entry: { index: "src/index.ts", host: "src/host.ts", "egress-policy/index": "src/egress-policy/index.ts", "testing/index": "src/testing/index.ts" },
  format: ["esm"],
  dts: true,
  clean: true,
  target: "node20",
  sourcemap: true,
  // Keep `node:net`, not `net`: the egress proxy bundles ./egress-policy into its one-file entry, which imports node: built-ins only.
  removeNodeProtocol: false,
});
