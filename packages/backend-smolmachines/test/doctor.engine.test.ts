import { createTestContext } from "@claude-bottle/core/testing";
import type Dockerode from "dockerode";
import { beforeAll, describe, expect, it } from "vitest";
import { createSmolmachinesBackend } from "../src/backend.js";
import { DOUBLE_VERSION, engine, fakeSmolvm, NEWER_DOUBLE, SMOLVM_DOUBLE } from "./support.js";

let docker: Dockerode;

/** The real engine, answering `docker info` as Docker Desktop with the given insecure registries. */
function desktopWith(cidrs: string[]): Dockerode {
  return new Proxy(docker, {
    get: (target, key) =>
      key === "info"
        ? async () => ({ ...(await target.info()), OperatingSystem: "Docker Desktop", RegistryConfig: { InsecureRegistryCIDRs: cidrs } })
        : Reflect.get(target, key),
  });
}

beforeAll(async () => {
  docker = await engine();
});

describe("doctor", () => {
  it("reports smolvm, the engine and the registry image", async () => {
    const checks = await createSmolmachinesBackend({ smolvm: SMOLVM_DOUBLE }).doctor!(createTestContext());
    expect(checks.map((c) => c.name)).toEqual(["smolvm", "smolvm features", "docker", "registry image"]);
    expect(checks.every((c) => c.ok)).toBe(true);
    expect(checks[0]!.detail).toContain(`smolvm ${DOUBLE_VERSION} (a test double, which runs no VM) at ${SMOLVM_DOUBLE}`);
    const features = checks[1]!.detail;
    if (NEWER_DOUBLE) {
      expect(features).toContain("has every feature");
      expect(features).toContain("pack create runs with SMOLVM_ALLOW_HOST_LOOPBACK=1 (that call only)");
    } else {
      // What 1.9.2 lacks, each with the release that has it.
      expect(features).toContain("lacks machine create --allow-host-pattern");
      expect(features).toContain("machine create --credential (credentials the guest uses without seeing them; smolvm 1.22.0+)");
      expect(features).toContain("machine create --stop-on-exit");
      expect(features).not.toContain("--allow-host (");
      expect(features).toContain("reach the host's loopback");
    }
  });

  it("reports an old smolvm and a missing KVM device with what to do, without throwing", async () => {
    const old = fakeSmolvm('echo "smolvm 1.2.0"');
    const [smolvm] = await createSmolmachinesBackend({ smolvm: old }).doctor!(createTestContext());
    expect(smolvm).toMatchObject({ name: "smolvm", ok: false });
    expect(smolvm!.detail).toContain("1.9.0");

    const real = fakeSmolvm('echo "smolvm 1.9.2"');
    const checks = await createSmolmachinesBackend({ smolvm: real, kvmDevice: "/nonexistent/kvm" }).doctor!(createTestContext());
    expect(checks.find((c) => c.name === "kvm")).toMatchObject({ ok: false, hint: expect.stringContaining("virtualization") });
  });

  it("on Docker Desktop, says whether the engine will push to host.docker.internal over plain HTTP", async () => {
    const plainHttp = async (cidrs: string[]) =>
      (await createSmolmachinesBackend({ smolvm: SMOLVM_DOUBLE, docker: desktopWith(cidrs) }).doctor!(createTestContext())).find(
        (c) => c.name === "plain-HTTP push",
      );
    expect(await plainHttp(["127.0.0.0/8"])).toMatchObject({ ok: false, hint: expect.stringContaining('"192.168.65.0/24"') });
    expect(await plainHttp(["127.0.0.0/8", "192.168.65.0/24"])).toMatchObject({ ok: true });
    expect(await plainHttp(["192.168.0.0/16"])).toMatchObject({ ok: true });
    expect(await plainHttp(["192.168.66.0/24"])).toMatchObject({ ok: false });
  });
});
