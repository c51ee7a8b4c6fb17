import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { busyboxContext } from "@claude-bottle/test-support";
import { beforeAll, describe, expect, it } from "vitest";
import { installIntoEmptyProject, pack, PACKAGES } from "./pack.js";

/** Runs a program inside `project` as a user of the library would. */
function runProgram(project: string, source: string, env: NodeJS.ProcessEnv = {}): string {
  const file = join(project, "program.mjs");
  writeFileSync(file, source);
  return execFileSync("node", [file], { cwd: project, encoding: "utf8", env: { ...process.env, ...env } });
}

describe("the backends as libraries, without the CLI", () => {
  let destination: string;
  beforeAll(() => {
    destination = mkdtempSync(join(tmpdir(), "claude-bottle-tarballs-"));
  });

  it("@claude-bottle/backend-docker alone builds an image and runs a container with its helpers", () => {
    // core comes along as the backend's peer dependency; the program imports only the backend.
    const project = installIntoEmptyProject([pack(PACKAGES.core, destination), pack(PACKAGES.docker, destination)]);
    const context = busyboxContext('LABEL purpose="library-use"');
    const output = runProgram(
      project,
      `
import { connectDocker, buildImage } from "@claude-bottle/backend-docker";
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
}
`,
    );
    const result = JSON.parse(output.trim().split("\n").pop()!);
    expect(result.id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(result.status).toBe(0);
    expect(result.logs).toContain("built-and-ran");
  });
});
