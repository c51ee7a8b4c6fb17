import type { BackendFactory } from "@claude-bottle/core";
import { describeBackendConformance } from "@claude-bottle/core/testing";
import { busyboxAgent } from "@claude-bottle/test-support";
import { afterAll, beforeAll, describe, it } from "vitest";
import createDockerBackend from "../src/index.js";

describeBackendConformance(
  { describe, it, beforeAll, afterAll },
  {
    // The suite calls the factory without options; ours are all optional.
    factory: createDockerBackend as BackendFactory,
    agent: () => busyboxAgent(),
    timeout: 180_000,
  },
);
