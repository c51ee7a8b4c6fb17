import { ErrorCodes, type ResolvedAgent } from "@claude-bottle/core";
import { testSpec } from "@claude-bottle/core/testing";
import { describe, expect, it } from "vitest";
import { createDockerBackend } from "../src/index.js";
import { createTestContext, rejectionOf } from "./support/engine.js";

const agent = (overrides: Partial<ResolvedAgent>): ResolvedAgent => ({
  slug: "ports-refused",
  origin: "user",
  image: { kind: "ref", ref: "example/never-pulled:1" },
  args: [],
  workspace: process.cwd(),
  mounts: [],
  env: [],
  network: true,
  resources: {},
  ...overrides,
});

/** What the docker backend refuses of ports both ways in prepare, before anything is made. */
describe("ports the docker backend refuses", () => {
  it("refuses ports and host services for a bottle without network, which has nothing to publish from", async () => {
    const error = await rejectionOf(createDockerBackend().prepare(testSpec(agent({ network: false, ports: [{ host: 3000, bottle: 3000 }], hostServices: [5432] })), createTestContext()));
    expect(error).toMatchObject({ code: ErrorCodes.AGENT_INVALID, message: expect.stringContaining("ports and network.host need the bottle's network") });
  });

  it("refuses a host service on the proxy's own port", async () => {
    const error = await rejectionOf(createDockerBackend().prepare(testSpec(agent({ hostServices: [3128] })), createTestContext()));
    expect(error).toMatchObject({ code: ErrorCodes.AGENT_INVALID, message: expect.stringContaining("3128 is the port of the bottle's egress proxy") });
  });
});
