import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeBackendConformance } from "@claude-bottle/core/testing";
import { busyboxAgent, buildTestRegistryImage } from "@claude-bottle/test-support";
import { afterAll, beforeAll, describe, it } from "vitest";
import { createSmolmachinesBackend, type SmolmachinesOptions } from "../src/backend.js";
import { engine, SMOLVM_DOUBLE, useDoubleState, testSlug } from "./support.js";

// One cache for the whole suite, as a user has: the first prepare packs, the others hit it.
const cacheDir = mkdtempSync(join(tmpdir(), "smol-conformance-cache-"));
useDoubleState();

describeBackendConformance(
  { describe, it, beforeAll, afterAll },
  {
    factory: createSmolmachinesBackend,
    factoryOptions: { smolvm: SMOLVM_DOUBLE, registryImage: buildTestRegistryImage(), dockerDesktop: false } satisfies SmolmachinesOptions,
    agent: async () => {
      await engine();
      return busyboxAgent({ slug: testSlug("smol-conformance") });
    },
    context: () => ({ cacheDir }),
  },
);
