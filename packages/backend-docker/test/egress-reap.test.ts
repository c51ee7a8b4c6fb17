import { hostname } from "node:os";
import { Labels, testRunLabels } from "@claude-bottle/core";
import type Dockerode from "dockerode";
import { afterAll, describe, expect, it } from "vitest";
import { createDockerBackend } from "../src/index.js";
import { EGRESS_FOR_LABEL, EGRESS_OWNER_LABEL } from "../src/egress/labels.js";
import { egressNames } from "../src/egress/sidecar.js";
import { createTestContext, uniqueSuffix, useTestEngine } from "./support/engine.js";

let docker: Dockerode;
useTestEngine((d) => (docker = d));

const made: string[] = [];
afterAll(async () => {
  for (const name of made) await docker.getNetwork(name).remove().catch(() => {});
});

/** An egress network as a start makes it before its bottle exists, owned by `owner`. */
async function egressNetwork(owner: string): Promise<string> {
  const bottle = `claude-bottle-reap-test-${uniqueSuffix()}`;
  const { network } = egressNames(bottle);
  made.push(network);
  await docker.createNetwork({
    Name: network,
    Internal: true,
    Labels: { [Labels.tool]: "claude-bottle", ...testRunLabels(), [EGRESS_FOR_LABEL]: bottle, [EGRESS_OWNER_LABEL]: owner },
  });
  return network;
}

const exists = (name: string) => docker.getNetwork(name).inspect().then(() => true, () => false);

describe("reaping a bottle's egress", () => {
  it("leaves the egress of a start still running here, whose bottle is not made yet, and reaps one whose start is gone", async () => {
    const starting = await egressNetwork(`${hostname()}:${process.pid}`);
    // A pid past the kernel's largest: no such process.
    const orphaned = await egressNetwork(`${hostname()}:4194305`);
    await createDockerBackend().list!(createTestContext());
    expect(await exists(starting)).toBe(true);
    expect(await exists(orphaned)).toBe(false);
  });
});
