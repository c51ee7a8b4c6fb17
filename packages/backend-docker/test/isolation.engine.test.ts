import { existsSync, mkdtempSync } from "node:fs";
import { release, tmpdir } from "node:os";
import { join } from "node:path";
import { type Isolation } from "@claude-bottle/core";
import { captureStdio, testSpec } from "@claude-bottle/core/testing";
import { busyboxAgent, busyboxContext, removeAgentTraces } from "@claude-bottle/test-support";
import type Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDockerBackend, DockerErrorCodes } from "../src/index.js";
import { diagnose } from "../src/container/doctor.js";
import { gvisorRuntimeOf, ISOLATION_LABEL } from "../src/container/isolation.js";
import { createTestContext, removeHomesOfAgents, uniqueSuffix, useTestEngine } from "./support/engine.js";

const suffix = uniqueSuffix();
const slug = `isolation-test-${suffix}`;
let docker: Dockerode;
let context: string;

useTestEngine((found) => (docker = found));
beforeAll(() => {
  context = busyboxContext(`LABEL test.suffix=${suffix}`);
});
afterAll(async () => {
  removeAgentTraces([slug]);
  if (docker) await removeHomesOfAgents(docker, slug);
});

/**
 * What the bottle's kernel is, and two host-kernel interfaces runc leaves in
 * reach of every container: /proc/kallsyms (the host kernel's symbol table,
 * the first thing a kernel exploit reads) and /sys/kernel/btf/vmlinux (the
 * host kernel's type layout, which an exploit uses to find its structures).
 */
const PROBE = [
  'echo "release=$(uname -r)"',
  'echo "dmesg=$(dmesg 2>/dev/null | head -n 1)"',
  'if head -c 1 /proc/kallsyms >/dev/null 2>&1; then echo kallsyms=readable; else echo kallsyms=absent; fi',
  'if head -c 1 /sys/kernel/btf/vmlinux >/dev/null 2>&1; then echo btf=readable; else echo btf=absent; fi',
].join("; ");

async function probe(isolation: Isolation): Promise<Record<string, string>> {
  const backend = createDockerBackend();
  const ctx = createTestContext();
  const io = captureStdio();
  const agent = busyboxAgent({ slug, workspace: mkdtempSync(join(tmpdir(), "claude-bottle-isolation-ws-")), command: ["sh", "-c", PROBE], isolation }, context);
  const launched = await backend.launch(await backend.prepare(testSpec(agent), ctx), { extraArgs: [], detach: false, stdio: io.stdio }, ctx);
  expect(launched).toMatchObject({ exitCode: 0 });
  return Object.fromEntries(io.stdout().trim().split("\n").map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]));
}

describe("isolation on the docker backend (SECURITY.md point 9)", () => {
  it("under runc the bottle runs on the host's kernel, and reaches its symbol table and type layout", async () => {
    // The interfaces exist on this host: the gVisor case below shows them closed, not missing.
    expect(existsSync("/proc/kallsyms") && existsSync("/sys/kernel/btf/vmlinux")).toBe(true);
    const seen = await probe("runc");
    expect(seen.release).toBe(release());
    expect(seen.kallsyms).toBe("readable");
    expect(seen.btf).toBe("readable");
  });

  it("under gvisor the bottle's kernel is gVisor's, and neither host-kernel interface is there", async () => {
    const seen = await probe("gvisor");
    expect(seen.release).not.toBe(release());
    expect(seen.dmesg).toContain("Starting gVisor");
    expect(seen.kallsyms).toBe("absent");
    expect(seen.btf).toBe("absent");
  });

  it("labels the bottle with its isolation, and list says it", async () => {
    const backend = createDockerBackend();
    const ctx = createTestContext();
    const agent = busyboxAgent({ slug, workspace: mkdtempSync(join(tmpdir(), "claude-bottle-isolation-ws-")), command: ["sleep", "60"], isolation: "gvisor" }, context);
    const launched = await backend.launch(await backend.prepare(testSpec(agent), ctx), { extraArgs: [], detach: true, stdio: captureStdio().stdio }, ctx);
    try {
      const info = await docker.getContainer(launched.name).inspect();
      const runtimes = (await docker.info()) as { Runtimes: Record<string, { path: string }> };
      expect(runtimes.Runtimes[info.HostConfig.Runtime!]?.path).toMatch(/(^|\/)runsc$/);
      expect(info.Config.Labels[ISOLATION_LABEL]).toBe("gvisor");
      const listed = (await backend.list!(ctx)).find((bottle) => bottle.name === launched.name);
      expect(listed?.isolation).toBe("gvisor");
    } finally {
      await backend.remove!(launched.name, { force: true }, ctx);
    }
  });

  it("doctor names the engine's runsc runtime, and fails it only when the user's config asks for gVisor", async () => {
    const checks = await diagnose(undefined, { env: { XDG_CONFIG_HOME: mkdtempSync(join(tmpdir(), "claude-bottle-isolation-config-")) } });
    expect(checks.find((check) => check.name === "gVisor (isolation: gvisor)")).toMatchObject({ ok: true, detail: expect.stringMatching(/runsc/) });
  });

  it("an engine without runsc: gvisor is refused with how to install and register it, runc is not", () => {
    const runcOnly = [{ name: "runc", path: "runc", runtimeArgs: [] }];
    let refusal: { code?: string; hint?: string } | undefined;
    try {
      gvisorRuntimeOf(runcOnly);
    } catch (error) {
      refusal = error as typeof refusal;
    }
    expect(refusal?.code).toBe(DockerErrorCodes.DOCKER_RUNTIME_MISSING);
    expect(refusal?.hint).toContain("apt-get install runsc");
    expect(refusal?.hint).toContain('"runtimes": { "runsc"');
    expect(refusal?.hint).toContain("kill -HUP");
    // Registered under another name, it is found by its binary.
    expect(gvisorRuntimeOf([...runcOnly, { name: "gvisor", path: "/usr/local/bin/runsc", runtimeArgs: [] }])).toEqual({ isolation: "gvisor", runtime: "gvisor" });
  });
});
