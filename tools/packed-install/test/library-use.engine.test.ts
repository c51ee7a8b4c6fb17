import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildTestRegistryImage, busyboxContext } from "@claude-bottle/test-support";
import { afterAll, describe, expect, it } from "vitest";
import { installIntoEmptyProject, pack, PACKAGES } from "./pack.js";

/** Runs a program inside `project` as a user of the library would. */
function runProgram(project: string, source: string, env: NodeJS.ProcessEnv = {}): string {
  const file = join(project, "program.mjs");
  writeFileSync(file, source);
  return execFileSync("node", [file], { cwd: project, encoding: "utf8", env: { ...process.env, ...env } });
}

describe("the backends as libraries, without the CLI", () => {
  // The programs remove the image they built, but the engine keeps a parent step a push tagged (the LABEL
  // these tests add), untagged and childless: every step with their label goes here.
  afterAll(() => {
    for (const purpose of ["library-use", "local-registry-use"]) {
      const ids = execFileSync("docker", ["images", "-a", "-q", "--filter", `label=purpose=${purpose}`], { encoding: "utf8" }).split("\n").filter(Boolean);
      if (ids.length) execFileSync("docker", ["rmi", "-f", ...new Set(ids)], { stdio: "ignore" });
    }
  });

  it("@claude-bottle/docker-engine alone builds an image and runs a container with its helpers", () => {
    // core comes along as the engine package's peer dependency; the program imports only the engine package.
    const project = installIntoEmptyProject([pack(PACKAGES.core), pack(PACKAGES.engine)]);
    const context = busyboxContext('LABEL purpose="library-use"');
    const output = runProgram(
      project,
      `
import { connectDocker, buildImage } from "@claude-bottle/docker-engine";
const { docker } = await connectDocker();
const ctx = { emit() {}, signal: new AbortController().signal };
const id = await buildImage(docker, { dockerfile: ${JSON.stringify(join(context, "Dockerfile"))}, context: ${JSON.stringify(context)} }, ctx);
const container = await docker.createContainer({ Image: id, Cmd: ["sh", "-c", "echo built-and-ran"], HostConfig: { NetworkMode: "none" } });
try {
  await container.start();
  const { StatusCode } = await container.wait();
  const logs = await container.logs({ stdout: true });
  console.log(JSON.stringify({ id, status: StatusCode, logs: logs.toString("utf8") }));
} finally {
  await container.remove({ force: true });
  // What this script built goes too: the engine is left as it was found.
  await docker.getImage(id).remove({ force: true }).catch(() => {});
}
`,
    );
    const result = JSON.parse(output.trim().split("\n").pop()!);
    expect(result.id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(result.status).toBe(0);
    expect(result.logs).toContain("built-and-ran");
  });

  it("@claude-bottle/backend-smolmachines alone pushes an image through local-registry and an OCI client reads it back", async () => {
    const registryImage = await buildTestRegistryImage();
    const project = installIntoEmptyProject([
      pack(PACKAGES.core),
      pack(PACKAGES.egressProxy),
      pack(PACKAGES.engine),
      pack(PACKAGES.smolmachines),
    ]);
    const context = busyboxContext('LABEL purpose="local-registry-use"');
    const output = runProgram(
      project,
      `
import { execFileSync } from "node:child_process";
import { buildImage, connectDocker } from "@claude-bottle/docker-engine";
import { pushToLocalRegistry, startLocalRegistry } from "@claude-bottle/backend-smolmachines/local-registry";
const { docker } = await connectDocker();
const ctx = { emit() {}, signal: new AbortController().signal };
const id = await buildImage(docker, { dockerfile: ${JSON.stringify(join(context, "Dockerfile"))}, context: ${JSON.stringify(context)} }, ctx);
// Node 20 has no \`await using\` syntax yet: dispose by hand, as plain JavaScript users will.
const registry = await startLocalRegistry(docker, {}, ctx);
let ref, manifest;
try {
  ref = await pushToLocalRegistry(docker, registry, id, "library-use:v1", ctx);
  manifest = JSON.parse(execFileSync("skopeo", ["inspect", "--tls-verify=false", "--config", "docker://" + ref], { encoding: "utf8" }));
} finally {
  await registry[Symbol.asyncDispose]();
  await docker.getImage(id).remove({ force: true }).catch(() => {});
}
const containerId = registry.containerId;
const left = await docker.listContainers({ all: true, filters: { id: [containerId] } });
console.log(JSON.stringify({ id, ref, labels: manifest.config.Labels, registriesLeft: left.length }));
`,
      { CLAUDE_BOTTLE_REGISTRY_IMAGE: registryImage },
    );
    const result = JSON.parse(output.trim().split("\n").pop()!);
    expect(result.ref).toMatch(/^localhost:\d+\/library-use:v1$/);
    // Besides the run's own label while scripts/test runs (CLAUDE_BOTTLE_TEST_RUN).
    const { "dev.claude-bottle.test-run": _run, ...labels } = result.labels as Record<string, string>;
    expect(labels).toEqual({ purpose: "local-registry-use" });
    expect(result.registriesLeft).toBe(0);
  });
});
