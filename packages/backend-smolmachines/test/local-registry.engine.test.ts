import { spawn } from "node:child_process";
import { once } from "node:events";
import { hostname } from "node:os";
import { fileURLToPath } from "node:url";
import { buildImage } from "@claude-bottle/docker-engine";
import { BottleError, ErrorCodes, Labels } from "@claude-bottle/core";
import { createTestContext } from "@claude-bottle/core/testing";
import { busyboxContext, buildTestRegistryImage } from "@claude-bottle/test-support";
import type Dockerode from "dockerode";
import { beforeAll, describe, expect, it, vi } from "vitest";
import {
  DEFAULT_REGISTRY_IMAGE,
  RegistryLabels,
  reapStaleRegistries,
  registryEndpoints,
  registryIsStale,
  registryImage,
  startLocalRegistry,
} from "../src/registry/local-registry.js";
import { engine, registryContainers, testSlug } from "./support.js";

let docker: Dockerode;
let image: string;

async function exists(id: string): Promise<boolean> {
  return docker
    .getContainer(id)
    .inspect()
    .then(
      () => true,
      () => false,
    );
}

beforeAll(async () => {
  docker = await engine();
  image = buildTestRegistryImage();
});

describe("registry endpoints", () => {
  it("pushes through host.docker.internal on Docker Desktop and localhost on a native engine; the host always uses localhost", () => {
    expect(registryEndpoints(5123, true)).toEqual({ daemonEndpoint: "host.docker.internal:5123", hostEndpoint: "localhost:5123" });
    expect(registryEndpoints(5123, false)).toEqual({ daemonEndpoint: "localhost:5123", hostEndpoint: "localhost:5123" });
  });

  it("runs the pinned registry unless an option or CLAUDE_BOTTLE_REGISTRY_IMAGE names another", () => {
    expect(registryImage({ env: {} })).toBe(DEFAULT_REGISTRY_IMAGE);
    expect(DEFAULT_REGISTRY_IMAGE).toMatch(/^registry:2\.8\.3@sha256:[0-9a-f]{64}$/);
    expect(registryImage({ env: { CLAUDE_BOTTLE_REGISTRY_IMAGE: "mirror/registry:2" } })).toBe("mirror/registry:2");
    expect(registryImage({ image: "opt/registry:2", env: { CLAUDE_BOTTLE_REGISTRY_IMAGE: "mirror/registry:2" } })).toBe("opt/registry:2");
  });

  it("detects Docker Desktop from docker info when not told", async () => {
    const ctx = createTestContext();
    const fakeDesktop = new Proxy(docker, {
      get: (target, key) => (key === "info" ? async () => ({ ...(await target.info()), OperatingSystem: "Docker Desktop" }) : Reflect.get(target, key)),
    });
    await using registry = await startLocalRegistry(fakeDesktop, { image }, ctx);
    expect(registry.daemonEndpoint).toBe(`host.docker.internal:${registry.port}`);
    expect(registry.hostEndpoint).toBe(`localhost:${registry.port}`);
  });
});

describe("startLocalRegistry", () => {
  it("publishes on 127.0.0.1 only with a random port on a native engine, answers /v2/, and is removed on dispose", async () => {
    const ctx = createTestContext();
    let id: string;
    {
      await using registry = await startLocalRegistry(docker, { image, dockerDesktop: false }, ctx);
      id = registry.containerId;
      expect(registry.daemonEndpoint).toBe(`localhost:${registry.port}`);
      const info = await docker.getContainer(id).inspect();
      expect(info.HostConfig.PortBindings).toEqual({ "5000/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] });
      expect(info.NetworkSettings.Ports["5000/tcp"]?.map((b) => b.HostIp)).toEqual(["127.0.0.1"]);
      expect(info.Config.Labels).toMatchObject({
        [Labels.tool]: "true",
        [RegistryLabels.role]: "local-registry",
        [RegistryLabels.ownerPid]: String(process.pid),
        [RegistryLabels.ownerHost]: hostname(),
      });
      const response = await fetch(`http://127.0.0.1:${registry.port}/v2/`);
      expect(response.status).toBe(200);
    }
    expect(await exists(id)).toBe(false);
  });

  it("publishes on every interface on Docker Desktop, where the engine's VM must reach the host", async () => {
    await using registry = await startLocalRegistry(docker, { image, dockerDesktop: true }, createTestContext());
    const info = await docker.getContainer(registry.containerId).inspect();
    expect(info.HostConfig.PortBindings["5000/tcp"]).toEqual([{ HostIp: "0.0.0.0", HostPort: "" }]);
  });

  it("is removed when the block that holds it throws", async () => {
    let id = "";
    await expect(
      (async () => {
        await using registry = await startLocalRegistry(docker, { image, dockerDesktop: false }, createTestContext());
        id = registry.containerId;
        throw new Error("boom");
      })(),
    ).rejects.toThrow("boom");
    expect(id).not.toBe("");
    expect(await exists(id)).toBe(false);
  });

  it("is removed when the signal fires (Ctrl-C)", async () => {
    const ctx = createTestContext();
    const registry = await startLocalRegistry(docker, { image, dockerDesktop: false }, ctx);
    ctx.controller.abort();
    await vi.waitFor(async () => expect(await exists(registry.containerId)).toBe(false), { timeout: 30_000, interval: 100 });
  });

  it("refuses to start once the signal has fired", async () => {
    const ctx = createTestContext();
    ctx.controller.abort();
    await expect(startLocalRegistry(docker, { image, dockerDesktop: false }, ctx)).rejects.toMatchObject({ code: ErrorCodes.ABORTED });
  });

  it("is removed when its host aborts the signal on SIGTERM, as the CLI does", async () => {
    const holder = spawn(process.execPath, [fileURLToPath(new URL("./fixtures/registry-holder.mjs", import.meta.url)), image], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let id = "";
    for await (const chunk of holder.stdout!) {
      id += chunk.toString();
      if (id.includes("\n")) break;
    }
    id = id.trim();
    expect(await exists(id)).toBe(true);
    holder.kill("SIGTERM");
    const [code] = (await once(holder, "exit")) as [number | null, NodeJS.Signals | null];
    expect(code).toBe(143);
    expect(await exists(id)).toBe(false);
  });

  it("fails with REGISTRY_UNREACHABLE, and leaves nothing, when the registry exits before it answers", async () => {
    const ctx = createTestContext();
    const shell = busyboxContext(); // its command is a shell, which exits at once without a terminal
    const exitsAtOnce = await buildImage(docker, { dockerfile: `${shell}/Dockerfile`, context: shell, tags: [`claude-bottle-test/exits-at-once:${testSlug("t")}`] }, ctx);
    expect(exitsAtOnce).toMatch(/^sha256:/);
    const before = (await registryContainers(docker)).length;
    const error = await startLocalRegistry(docker, { image: `claude-bottle-test/exits-at-once:${testSlug("t")}`, dockerDesktop: false }, ctx).catch((e: unknown) => e);
    expect(BottleError.isInstance(error) && error.code).toBe(ErrorCodes.REGISTRY_UNREACHABLE);
    expect((error as Error).message).toMatch(/exited/);
    expect((await registryContainers(docker)).length).toBe(before);
  });

  it("gives up with REGISTRY_UNREACHABLE when /v2/ never answers within the bound", async () => {
    const ctx = createTestContext();
    const dir = busyboxContext('CMD ["sleep", "300"]');
    await buildImage(docker, { dockerfile: `${dir}/Dockerfile`, context: dir, tags: [`claude-bottle-test/silent:${testSlug("t")}`] }, ctx);
    const before = (await registryContainers(docker)).length;
    const error = await startLocalRegistry(docker, { image: `claude-bottle-test/silent:${testSlug("t")}`, dockerDesktop: false, readyTimeoutMs: 500 }, ctx).catch(
      (e: unknown) => e,
    );
    expect(BottleError.isInstance(error) && error.code).toBe(ErrorCodes.REGISTRY_UNREACHABLE);
    expect((error as Error).message).toMatch(/did not answer/);
    expect((await registryContainers(docker)).length).toBe(before);
  });
});

describe("reapStaleRegistries", () => {
  const leftover = async (labels: Record<string, string>) =>
    (
      await docker.createContainer({
        Image: image,
        Labels: { [Labels.tool]: "true", [RegistryLabels.role]: "local-registry", ...labels },
      })
    ).id;

  it("counts a registry as stale when its owner is gone, unnamed, or when it is too old", () => {
    const now = Date.now();
    const created = Math.floor(now / 1000);
    const owned = (pid: string, host = hostname()) => ({ [RegistryLabels.ownerPid]: pid, [RegistryLabels.ownerHost]: host });
    const hour = 60 * 60 * 1000;
    expect(registryIsStale({ Labels: owned(String(process.pid)), Created: created }, hour, now)).toBe(false);
    expect(registryIsStale({ Labels: owned("4194303"), Created: created }, hour, now)).toBe(true);
    expect(registryIsStale({ Labels: {}, Created: created }, hour, now)).toBe(true);
    // On another host the pid means nothing here: only age counts.
    expect(registryIsStale({ Labels: owned("4194303", "another-host"), Created: created }, hour, now)).toBe(false);
    expect(registryIsStale({ Labels: owned("4194303", "another-host"), Created: created - 2 * 3600 }, hour, now)).toBe(true);
    expect(registryIsStale({ Labels: owned(String(process.pid)), Created: created - 2 * 3600 }, hour, now)).toBe(true);
  });

  it("removes the registries of dead owners and keeps those of live ones", async () => {
    // The highest pid Linux hands out: no process has it.
    const dead = await leftover({ [RegistryLabels.ownerPid]: "4194303", [RegistryLabels.ownerHost]: hostname() });
    const live = await leftover({ [RegistryLabels.ownerPid]: String(process.pid), [RegistryLabels.ownerHost]: hostname() });
    try {
      expect(await reapStaleRegistries(docker)).toBeGreaterThanOrEqual(1);
      expect(await exists(dead)).toBe(false);
      expect(await exists(live)).toBe(true);
    } finally {
      for (const id of [dead, live]) await docker.getContainer(id).remove({ force: true }).catch(() => {});
    }
  });

  it("runs at every start, so a killed run's registry is gone after the next one", async () => {
    const dead = await leftover({ [RegistryLabels.ownerPid]: "4194303", [RegistryLabels.ownerHost]: hostname() });
    await using registry = await startLocalRegistry(docker, { image, dockerDesktop: false }, createTestContext());
    expect(registry.port).toBeGreaterThan(0);
    expect(await exists(dead)).toBe(false);
  });
});
