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
    // The engine is found from the context's environment: pass DOCKER_HOST through when it is set.
    context: () => ({ env: { ...process.env } }),
    timeout: 180_000,
  },
);
