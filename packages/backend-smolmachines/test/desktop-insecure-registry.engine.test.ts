import { Readable } from "node:stream";
import { BottleError, ErrorCodes } from "@claude-bottle/core";
import { createTestContext, testSpec } from "@claude-bottle/core/testing";
import { busyboxAgent, busyboxContext, buildTestRegistryImage } from "@claude-bottle/test-support";
import type Dockerode from "dockerode";
import { beforeAll, describe, expect, it } from "vitest";
import { createSmolmachinesBackend } from "../src/backend.js";
import { DOCKER_DESKTOP_HOST_RANGE, desktopInsecureRegistryError } from "../src/registry/desktop-insecure-registry.js";
import { engine, packInvocations, registryContainers, SMOLVM_DOUBLE, useDoubleState, testSlug } from "./support.js";

const REFUSAL = 'Get "https://host.docker.internal:49153/v2/": http: server gave HTTP response to HTTPS client';

describe("desktopInsecureRegistryError", () => {
  const insecure = new BottleError(ErrorCodes.REGISTRY_INSECURE, "refused", { hint: "generic" });

  it("answers Docker Desktop's refusal with an insecure-registries range that covers every port", () => {
    const error = desktopInsecureRegistryError(insecure, { daemonEndpoint: "host.docker.internal:49153" }) as BottleError;
    expect(error.code).toBe(ErrorCodes.REGISTRY_INSECURE);
    expect(error.hint).toContain(`"insecure-registries": ["${DOCKER_DESKTOP_HOST_RANGE}"]`);
    expect(error.hint).toContain("Settings → Docker Engine");
    expect(error.cause).toBe(insecure);
  });

  it("leaves other errors, and refusals of other registries, as they are", () => {
    const other = new Error("disk full");
    expect(desktopInsecureRegistryError(other, { daemonEndpoint: "host.docker.internal:1" })).toBe(other);
    expect(desktopInsecureRegistryError(insecure, { daemonEndpoint: "localhost:1" })).toBe(insecure);
  });
});

describe("a prepare on Docker Desktop whose engine refuses plain HTTP", () => {
  let docker: Dockerode;
  let registryImage: string;

  beforeAll(async () => {
    docker = await engine();
    registryImage = buildTestRegistryImage();
  });

  it("stops with REGISTRY_INSECURE and the hint, and leaves no registry, tag or artifact", async () => {
    // The engine here is native, so the refusal Docker Desktop would send is played by the push endpoint.
    const refusingPush = new Proxy(docker, {
      get(target, key) {
        if (key !== "getImage") return Reflect.get(target, key);
        return (name: string) => {
          const image = target.getImage(name);
          image.push = (async () => Readable.from([JSON.stringify({ errorDetail: { message: REFUSAL }, error: REFUSAL }) + "\n"])) as never;
          return image;
        };
      },
    });
    const state = useDoubleState();
    const backend = createSmolmachinesBackend({ smolvm: SMOLVM_DOUBLE, registryImage, docker: refusingPush, dockerDesktop: true });
    const ctx = createTestContext();
    const agent = busyboxAgent({ slug: testSlug("smol-desktop-test"), command: ["true"] }, busyboxContext(`LABEL m="${Date.now()}"`));
    const error = await backend.prepare(testSpec(agent), ctx).catch((e: unknown) => e);

    expect(BottleError.isInstance(error) && error.code).toBe(ErrorCodes.REGISTRY_INSECURE);
    expect((error as BottleError).hint).toContain(DOCKER_DESKTOP_HOST_RANGE);
    expect(packInvocations(state)).toEqual([]);
    expect(await registryContainers(docker)).toEqual([]);
    const images = await docker.listImages();
    expect(images.flatMap((i) => i.RepoTags ?? []).filter((t) => t.startsWith("host.docker.internal:"))).toEqual([]);
  });
});
