import { defineConfig } from "tsup";

export default defineConfig({
  // index: the library a backend imports. main: the standalone proxy, run by a bare
  // `node` image from a read-only bind mount, so it is one file: no shared chunks
  // (splitting off) and anything it imports bundled (noExternal); only node: built-ins
  // stay outside. So core's egress-policy module is inside each file: core is a dependency
  // for the types index.d.ts names, never imported at run time. anchor: the same, for the
  // process that holds the proxy's address (anchor.ts). publish-port and host-services: the
  // same, for a bottle's published ports and the host services it may reach.
  entry: { index: "src/index.ts", main: "src/main.ts", anchor: "src/anchor.ts", "publish-port": "src/publish-port.ts", "host-services": "src/host-services.ts" },
  format: ["esm"],
  dts: { entry: { index: "src/index.ts" } },
  clean: true,
  target: "node20",
  platform: "node",
  splitting: false,
  noExternal: [/.*/],
  sourcemap: true,
  removeNodeProtocol: false,
});
