import { describeBackendConformance } from "@claude-bottle/core/testing";
import { busyboxAgent, removeAgentTraces } from "@claude-bottle/test-support";
import { afterAll, beforeAll, describe, it } from "vitest";
import createDockerBackend from "../src/index.js";

const slug = `docker-conformance-${process.pid}`;
// The suite removes the bottles it starts; the agent's image stays by design (the next start is warm), so it goes here.
afterAll(() => {
  removeAgentTraces([slug]);
});

describeBackendConformance(
  { describe, it, beforeAll, afterAll },
  {
    factory: createDockerBackend,
    agent: () => busyboxAgent({ slug }),
    // The engine is found from the context's environment: pass DOCKER_HOST through when it is set.
    context: () => ({ env: { ...process.env } }),
    timeout: 180_000,
  },
);
