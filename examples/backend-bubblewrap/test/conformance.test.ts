import { afterAll, beforeAll, describe, it } from "vitest";
import { describeBackendConformance } from "@claude-bottle/core/testing";
import createBubblewrapBackend, { type BubblewrapBackendOptions } from "../src/index.js";
import { hostAgent, hostEnv } from "./fixtures.js";

// The promises every claude-bottle backend makes, run against real bwrap sandboxes.
describeBackendConformance(
  { describe, it, beforeAll, afterAll },
  {
    // The suite types factories as BackendFactory<unknown>, as the CLI's loader calls them.
    factory: (options) => createBubblewrapBackend(options as BubblewrapBackendOptions | undefined),
    agent: () => hostAgent(),
    context: () => ({ env: hostEnv }),
  },
);
