import { afterAll, beforeAll, describe, it } from "vitest";
import { describeBackendConformance } from "@claude-bottle/core/testing";
import createBubblewrapBackend from "../src/index.js";
import { hostAgent, hostEnv } from "./fixtures.js";

// The promises every claude-bottle backend makes, run against real bwrap sandboxes.
describeBackendConformance(
  { describe, it, beforeAll, afterAll },
  {
    factory: createBubblewrapBackend,
    agent: () => hostAgent(),
    context: () => ({ env: hostEnv }),
  },
);
