import { createTestContext, testSpec } from "@claude-bottle/core/testing";
import { busyboxAgent, busyboxContext, buildTestRegistryImage } from "@claude-bottle/test-support";
import type Dockerode from "dockerode";
import { beforeAll, describe, expect, it } from "vitest";
import { createSmolmachinesBackend } from "../src/backend.js";
import type { SmolmachinesPrepared } from "../src/pipeline/prepare.js";
import { RegistryLabels } from "../src/registry/local-registry.js";
import { engine, holdFixture, SMOLVM_DOUBLE, temporaryTags, useDoubleState, testSlug } from "./support.js";

let docker: Dockerode;
let registryImage: string;

beforeAll(async () => {
  docker = await engine();
  registryImage = buildTestRegistryImage();
  useDoubleState();
});

const registriesOf = (pid: number) =>
  docker.listContainers({ all: true, filters: { label: [`${RegistryLabels.role}=local-registry`, `${RegistryLabels.ownerPid}=${pid}`] } });

describe("a prepare killed with SIGKILL in the middle of a push", () => {
  it("leaves its registry and its temporary tag, and the next prepare removes both and packs", async () => {
    const options = { smolvm: SMOLVM_DOUBLE, registryImage, dockerDesktop: false };
    const agent = busyboxAgent({ slug: testSlug("smol-killed-test"), command: ["true"] }, busyboxContext(`LABEL test.marker="${Date.now()}-${Math.random()}"`));
    const { cacheDir } = createTestContext();
    const { child, output, exited } = await holdFixture("prepare-and-hold.mjs", [JSON.stringify(options), JSON.stringify(agent), cacheDir], "pushing");
    expect(output).toContain("pushing\n");
    const key = /packed machine ([0-9a-f]{16})/.exec(output)![1]!;
    expect(await temporaryTags(docker, key)).toHaveLength(1);

    child.kill("SIGKILL");
    const [, signal] = (await exited) as [number | null, NodeJS.Signals | null];
    expect(signal).toBe("SIGKILL");
    // What the killed run left: its registry (still running) and the tag that pins the image.
    expect(await registriesOf(child.pid!)).toHaveLength(1);
    const [leftTag] = await temporaryTags(docker, key);
    expect(leftTag).toMatch(new RegExp(`^localhost:\\d+/claude-bottle:${key}$`));

    const ctx = createTestContext({ cacheDir });
    const prepared = (await createSmolmachinesBackend(options).prepare(testSpec(agent), ctx)) as SmolmachinesPrepared;
    expect(prepared.artifact.key).toBe(key);
    expect(await registriesOf(child.pid!)).toEqual([]);
    expect(await temporaryTags(docker, key)).toEqual([]);
    const images = await docker.listImages();
    expect(images.flatMap((i) => i.RepoTags ?? [])).not.toContain(leftTag);
  });
});
