import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { SmolmachinesErrorCodes } from "../src/index.js";
import { join } from "node:path";
import { buildImage } from "@claude-bottle/docker-engine";
import { BottleError, ErrorCodes, type ProgressEvent, type ResolvedAgent } from "@claude-bottle/core";
import { createTestContext, testSpec } from "@claude-bottle/core/testing";
import { busyboxAgent, busyboxContext, buildTestRegistryImage, registryImageContext, removeAgentTraces } from "@claude-bottle/test-support";
import type Dockerode from "dockerode";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createSmolmachinesBackend } from "../src/backend.js";
import type { SmolmachinesPrepared } from "../src/pipeline/prepare.js";
import {
  DOUBLE_VERSION,
  engine,
  fakeSmolvm,
  packInvocations,
  registryContainers,
  registryCreations,
  SMOLVM_DOUBLE,
  startedPhases,
  temporaryTags,
  useDoubleState, testSlug } from "./support.js";

let docker: Dockerode;
let registryImage: string;
let state: string;

/** A test agent with an image of its own, so that its cache key is new to this run. */
function freshAgent(marker = `${Date.now()}-${Math.random()}`): ResolvedAgent {
  return busyboxAgent({ slug: testSlug("smol-prepare-test"), command: ["sh", "-c", "exit 0"] }, busyboxContext(`LABEL test.marker="${marker}"`));
}

function backend(overrides: Parameters<typeof createSmolmachinesBackend>[0] = {}) {
  return createSmolmachinesBackend({ smolvm: SMOLVM_DOUBLE, registryImage, dockerDesktop: false, ...overrides });
}

/** What a pipeline must never leave behind, whether it succeeded or not. */
async function expectNoLeftovers(key: string | undefined, cacheDir: string, expectArtifact: boolean) {
  expect(await registryContainers(docker)).toEqual([]);
  if (key) expect(await temporaryTags(docker, key)).toEqual([]);
  const dir = join(cacheDir, "smolmachines");
  const entries = existsSync(dir) ? readdirSync(dir) : [];
  expect(entries.filter((e) => e.startsWith(".staging-") || e.endsWith(".lock"))).toEqual([]);
  if (!expectArtifact) expect(entries.filter((e) => !e.startsWith("logs"))).toEqual([]);
}

const keyOf = (imageId: string) => imageId.replace("sha256:", "").slice(0, 16);

beforeAll(async () => {
  docker = await engine();
  registryImage = buildTestRegistryImage();
});

beforeEach(() => {
  state = useDoubleState();
});

describe("prepare", () => {
  it("cold: builds, packs through a registry, moves the artifact into the cache, and leaves no registry or tag", async () => {
    const ctx = createTestContext();
    const prepared = (await backend().prepare(testSpec(freshAgent()), ctx)) as SmolmachinesPrepared;

    const key = keyOf(prepared.imageId);
    expect(prepared.artifact).toEqual({
      key,
      stub: join(ctx.cacheDir, "smolmachines", key),
      machine: join(ctx.cacheDir, "smolmachines", `${key}.smolmachine`),
    });
    expect(readFileSync(prepared.artifact.stub, "utf8")).toMatch(/^#!/);
    expect(existsSync(prepared.artifact.machine)).toBe(true);
    expect(startedPhases(ctx.events)).toEqual(["cache-check", "build", "cache-check", "registry-up", "push", "pack", "registry-down"]);
    expect(ctx.events.filter((e) => e.type === "phase-end").every((e) => (e as { ok: boolean }).ok)).toBe(true);

    const [pack] = packInvocations(state);
    expect(pack).toEqual(["pack", "create", "--image", expect.stringMatching(new RegExp(`^localhost:\\d+/claude-bottle:${key}$`)), "-o", expect.any(String)]);
    // Packed in a staging directory inside the cache, so the move into place is a rename.
    expect(pack![5]).toMatch(new RegExp(`^${join(ctx.cacheDir, "smolmachines", ".staging-")}`));
    await expectNoLeftovers(key, ctx.cacheDir, true);
    expect(readdirSync(join(ctx.cacheDir, "smolmachines")).sort()).toEqual([key, `${key}.smolmachine`, "inputs"]);
    // The record that lets the next prepare of the same inputs skip the engine: image ID and command, nothing else.
    const [record] = readdirSync(join(ctx.cacheDir, "smolmachines", "inputs"));
    expect(JSON.parse(readFileSync(join(ctx.cacheDir, "smolmachines", "inputs", record!), "utf8"))).toEqual({
      id: prepared.imageId,
      config: { Entrypoint: prepared.imageEntrypoint.length ? prepared.imageEntrypoint : null, Cmd: [...prepared.imageCmd] },
    });
  });

  it("warm: an unchanged agent skips the build, the registry, the push and the pack", async () => {
    const agent = freshAgent();
    const cold = createTestContext();
    const first = (await backend().prepare(testSpec(agent), cold)) as SmolmachinesPrepared;
    const packsBefore = packInvocations(state).length;

    const since = Date.now();
    const warm = createTestContext({ cacheDir: cold.cacheDir });
    const second = (await backend().prepare(testSpec(agent), warm)) as SmolmachinesPrepared;

    expect(second.artifact).toEqual(first.artifact);
    expect(startedPhases(warm.events)).toEqual(["cache-check"]);
    expect(warm.events.some((e: ProgressEvent) => e.type === "progress" && e.phase === "push")).toBe(false);
    expect(packInvocations(state).length).toBe(packsBefore);
    expect(await registryCreations(docker, since)).toBe(0);
  });

  it("warm, with unchanged build inputs, needs no engine at all: the packed machine is self-contained", async () => {
    const agent = freshAgent();
    const cold = createTestContext();
    const first = (await backend().prepare(testSpec(agent), cold)) as SmolmachinesPrepared;
    const deadEngine = new (docker.constructor as typeof Dockerode)({ socketPath: join(cold.cacheDir, "no-engine.sock") });
    const second = (await backend({ docker: deadEngine }).prepare(testSpec(agent), createTestContext({ cacheDir: cold.cacheDir }))) as SmolmachinesPrepared;
    expect(second.artifact).toEqual(first.artifact);
    expect(second.imageId).toBe(first.imageId);
    // A changed input must not be served from that record: it needs the engine, which is not there.
    const changed = freshAgent("changed");
    const error = await backend({ docker: deadEngine })
      .prepare(testSpec(changed), createTestContext({ cacheDir: cold.cacheDir }))
      .then(() => undefined, (e: unknown) => e);
    expect(error).toBeDefined();
  });

  it("a changed Dockerfile makes a new image, a new key and a new artifact", async () => {
    const ctx = createTestContext();
    const first = (await backend().prepare(testSpec(freshAgent("one")), ctx)) as SmolmachinesPrepared;
    const second = (await backend().prepare(testSpec(freshAgent("two")), createTestContext({ cacheDir: ctx.cacheDir }))) as SmolmachinesPrepared;
    expect(second.imageId).not.toBe(first.imageId);
    expect(second.artifact.key).not.toBe(first.artifact.key);
    expect(existsSync(first.artifact.machine) && existsSync(second.artifact.machine)).toBe(true);
  });

  it("four prepares at once of a never-built agent build once, pack once and leave exactly one artifact", async () => {
    const agent = freshAgent();
    const { cacheDir } = createTestContext();
    const results = (await Promise.all(
      Array.from({ length: 4 }, () => backend().prepare(testSpec(agent), createTestContext({ cacheDir }))),
    )) as SmolmachinesPrepared[];
    const key = results[0]!.artifact.key;
    expect(new Set(results.map((r) => r.imageId)).size).toBe(1);
    expect(new Set(results.map((r) => r.artifact.machine)).size).toBe(1);
    expect(packInvocations(state)).toHaveLength(1);
    expect(readdirSync(join(cacheDir, "smolmachines")).sort()).toEqual([key, `${key}.smolmachine`, "inputs"]);
    await expectNoLeftovers(key, cacheDir, true);
  });

  it("a failed pack leaves no cache entry, no registry and no temporary tag, and says what smolvm said", async () => {
    const failing = fakeSmolvm(`if [ "$1" = pack ]; then echo "Error: layer sha256:0000 failed to unpack" >&2; exit 1; fi\nexec "${SMOLVM_DOUBLE}" "$@"`);
    const ctx = createTestContext();
    const error = await backend({ smolvm: failing }).prepare(testSpec(freshAgent()), ctx).catch((e: unknown) => e);
    expect(BottleError.isInstance(error) && error.code).toBe(SmolmachinesErrorCodes.SMOLVM_FAILED);
    expect((error as Error).message).toContain("Error: layer sha256:0000 failed to unpack");
    expect((error as Error).message).toMatch(/Command: .*smolvm pack create --image localhost:\d+\/claude-bottle:[0-9a-f]{16} -o /);
    const key = /claude-bottle:([0-9a-f]{16})/.exec((error as Error).message)![1];
    await expectNoLeftovers(key, ctx.cacheDir, false);
    expect(startedPhases(ctx.events).at(-1)).toBe("registry-down");
  });

  it("a failed push leaves no cache entry, no registry and no temporary tag", async () => {
    // A registry that refuses writes: the real one in read-only maintenance mode.
    const context = registryImageContext();
    const config = join(context, "rootfs", "etc", "docker", "registry", "config.yml");
    writeFileSync(config, readFileSync(config, "utf8").replace("  delete:\n", "  maintenance:\n    readonly:\n      enabled: true\n  delete:\n"));
    const ctx = createTestContext();
    await buildImage(docker, { dockerfile: join(context, "Dockerfile"), context, tags: [`claude-bottle-test/registry-readonly:${testSlug("t")}`] }, ctx);

    const error = await backend({ registryImage: `claude-bottle-test/registry-readonly:${testSlug("t")}` })
      .prepare(testSpec(freshAgent()), ctx)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/claude-bottle:[0-9a-f]{16}/);
    expect(packInvocations(state)).toEqual([]);
    const key = /claude-bottle:([0-9a-f]{16})/.exec((error as Error).message)![1];
    await expectNoLeftovers(key, ctx.cacheDir, false);
  });

  for (const interruptedPhase of ["push", "pack"] as const) {
    it(`Ctrl-C during ${interruptedPhase} stops with ABORTED and leaves no cache entry, no registry and no temporary tag`, async () => {
      const ctx = createTestContext();
      const events: ProgressEvent[] = [];
      ctx.emit = (event) => {
        events.push(event);
        if (event.type === "phase-start" && event.phase === interruptedPhase) ctx.controller.abort();
      };
      const error = await backend().prepare(testSpec(freshAgent()), ctx).catch((e: unknown) => e);
      expect(BottleError.isInstance(error) && error.code).toBe(ErrorCodes.ABORTED);
      expect(startedPhases(events).at(-1)).toBe("registry-down");
      const lookedFor = events.find((e) => e.type === "phase-start" && e.phase === "cache-check" && /packed machine/.test(e.title));
      const key = /([0-9a-f]{16})$/.exec((lookedFor as { title: string }).title)![1];
      await expectNoLeftovers(key, ctx.cacheDir, false);
    });
  }

  it("builds a project agent's image with no network, whatever its policy, and says so when a step needed one", async () => {
    const slug = testSlug("smol-build-offline");
    // The step records the interfaces it saw: on the engine's network it would see eth0 besides lo.
    const context = busyboxContext('RUN for i in /sys/class/net/*; do echo "${i##*/}"; done > /interfaces');
    const ctx = createTestContext();
    try {
      const prepared = (await backend().prepare(testSpec(busyboxAgent({ slug, network: true, command: ["true"] }, context)), ctx)) as SmolmachinesPrepared;
      const seen = spawnSync("docker", ["run", "--rm", "--network", "none", prepared.imageId, "cat", "/interfaces"], { encoding: "utf8" });
      expect(seen.stdout.trim().split("\n")).toEqual(["lo"]);

      // A step that needs an interface to the outside fails, and the hint says why (no traffic is sent to find out).
      const needy = busyboxContext('RUN test -e /sys/class/net/eth0 || { echo "no network"; exit 1; }');
      const error = await backend().prepare(testSpec(busyboxAgent({ slug, network: true, command: ["true"] }, needy)), ctx).catch((e: unknown) => e as BottleError);
      expect(error).toBeInstanceOf(Error);
      expect((error as BottleError).code).toBe(ErrorCodes.IMAGE_BUILD_FAILED);
      expect((error as BottleError).hint).toContain("builds an agent's image with no network");
    } finally {
      removeAgentTraces([slug]);
      await ctx.dispose();
    }
  });

  it("stops before any work when the signal has already fired", async () => {
    const ctx = createTestContext();
    ctx.controller.abort();
    const error = await backend().prepare(testSpec(freshAgent()), ctx).catch((e: unknown) => e);
    expect(BottleError.isInstance(error) && error.code).toBe(ErrorCodes.ABORTED);
    expect(ctx.events).toEqual([]);
  });
});

describe("the double's pack, as the real one", () => {
  it("fails when the image never reached the registry", async () => {
    const { startLocalRegistry } = await import("../src/registry/local-registry.js");
    const { runSmolvm } = await import("../src/smolvm/run.js");
    const { probeSmolvmFeatures } = await import("../src/smolvm/features.js");
    const { packEnvironment } = await import("../src/pipeline/pack.js");
    const smolvm = { path: SMOLVM_DOUBLE, version: DOUBLE_VERSION };
    const ctx = createTestContext();
    await using registry = await startLocalRegistry(docker, { image: registryImage, dockerDesktop: false }, ctx);
    const error = await runSmolvm(smolvm, [
      "pack",
      "create",
      "--image",
      `${registry.hostEndpoint}/claude-bottle:0123456789abcdef`,
      "-o",
      join(ctx.cacheDir, "never-pushed"),
    ], { env: packEnvironment(await probeSmolvmFeatures(smolvm)) }).catch((e: unknown) => e);
    expect(BottleError.isInstance(error) && error.code).toBe(SmolmachinesErrorCodes.SMOLVM_FAILED);
    expect((error as Error).message).toMatch(/Error: failed to pull .*manifest unknown/);
    expect(existsSync(join(ctx.cacheDir, "never-pushed.smolmachine"))).toBe(false);
  });
});
