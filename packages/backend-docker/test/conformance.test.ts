import { describeBackendConformance } from "@claude-bottle/core/testing";
import { busyboxAgent } from "@claude-bottle/test-support";
import { afterAll, beforeAll, describe, it } from "vitest";
import createDockerBackend from "../src/index.js";

describeBackendConformance(
  { describe, it, beforeAll, afterAll },
  { factory: createDockerBackend, agent: () => busyboxAgent(), timeout: 180_000 },
);
