import { mkdtempSync, copyFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { HOST_SERVICES_NAME, type ResolvedAgent } from "@claude-bottle/core";
import { captureStdio, testSpec } from "@claude-bottle/core/testing";
import { buildTestNodeImage } from "@claude-bottle/test-support";
import { execFileSync } from "node:child_process";
import type Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDockerBackend } from "../src/index.js";
import { createTestContext, removeHomesOfAgents, uniqueSuffix, useTestEngine } from "./support/engine.js";

const FIXTURES = fileURLToPath(new URL("./fixtures/ports/", import.meta.url));
const suffix = uniqueSuffix();

interface Probe {
  name: string;
  ok: boolean;
  status?: number;
  body?: string;
  error?: string;
}

/** An HTTP server of the host on a free port of 127.0.0.1 only, counting the requests it gets. */
async function hostServer(name: string): Promise<{ server: Server; port: number; requests: () => number }> {
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    res.end(`${name} on the host, ${req.url}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as { port: number }).port, requests: () => requests };
}

/**
 * SECURITY.md points 3 and 9 on the docker backend: a bottle reaches the ports
 * of the host's loopback its user named, and no other, with real servers on
 * this machine's 127.0.0.1 and nothing leaving it.
 */
describe("host services (docker)", () => {
  let docker: Dockerode;
  let nodeImage: string;
  const workspace = mkdtempSync(join(tmpdir(), "claude-bottle-host-services-ws-"));
  copyFileSync(join(FIXTURES, "probe.cjs"), join(workspace, "probe.cjs"));
  const slug = `host-services-test-${suffix}`;
  const servers: Server[] = [];

  useTestEngine((found) => (docker = found));
  beforeAll(() => {
    nodeImage = buildTestNodeImage();
  });
  afterAll(async () => {
    for (const server of servers) server.close();
    if (docker) await removeHomesOfAgents(docker, slug);
  });

  it("reaches a named loopback port of the host, and another loopback port stays refused (recorded for logs --egress)", async () => {
    const named = await hostServer("the MCP server");
    const other = await hostServer("the database");
    servers.push(named.server, other.server);
    const steps = [
      { name: "named", url: `http://${HOST_SERVICES_NAME}:${named.port}/mcp` },
      { name: "other, direct", url: `http://${HOST_SERVICES_NAME}:${other.port}/` },
      { name: "other, through the proxy", url: `http://${HOST_SERVICES_NAME}:${other.port}/`, proxied: true },
      { name: "other by loopback, through the proxy", url: `http://127.0.0.1:${other.port}/`, proxied: true },
      { name: "other by localhost, through the proxy", url: `http://localhost:${other.port}/`, proxied: true },
      { name: "other by the bridge's gateway, through the proxy", url: `http://172.17.0.1:${other.port}/`, proxied: true },
      { name: "other by the bridge's gateway, direct", url: `http://172.17.0.1:${other.port}/` },
    ];
    const agent: ResolvedAgent = {
      slug,
      origin: "user",
      image: { kind: "ref", ref: nodeImage },
      command: ["node", "/workspace/probe.cjs", JSON.stringify(steps)],
      args: [],
      workspace,
      mounts: [],
      env: [],
      network: true,
      egress: { mode: "all", deny: [], allowPrivate: [] },
      resources: {},
      hostServices: [named.port],
    };
    const backend = createDockerBackend({ egress: { image: nodeImage } });
    const ctx = createTestContext();
    const launched = await backend.launch(await backend.prepare(testSpec(agent), ctx), { extraArgs: [], detach: true, stdio: captureStdio().stdio }, ctx);
    try {
      await docker.getContainer(launched.name).wait();
      const output = captureStdio();
      await backend.logs!(launched.name, { follow: false, stdio: output.stdio }, ctx);
      const result = Object.fromEntries(
        output
          .stdout()
          .split("\n")
          .filter((line) => line.startsWith("{"))
          .map((line) => JSON.parse(line) as Probe)
          .map((probe) => [probe.name, probe]),
      );
      expect(result["named"]).toMatchObject({ ok: true, body: "the MCP server on the host, /mcp\n" });
      for (const step of steps.slice(1)) expect(result[step.name], step.name).toMatchObject({ ok: false });
      expect(other.requests()).toBe(0);
      expect(named.requests()).toBe(1);

      const denials = captureStdio();
      await backend.logs!(launched.name, { follow: false, egress: true, stdio: denials.stdio }, ctx);
      const records = denials.stdout().trim().split("\n").map((line) => JSON.parse(line) as { host: string; port: number; reason: string });
      expect(records).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ host: HOST_SERVICES_NAME, port: other.port }),
          expect.objectContaining({ host: "127.0.0.1", port: other.port }),
          expect.objectContaining({ host: "172.17.0.1", port: other.port }),
        ]),
      );
    } finally {
      await backend.remove!(launched.name, { force: true }, ctx);
    }
    expect(execFileSync("docker", ["ps", "-aq", "--filter", `label=dev.claude-bottle.egress-for=${launched.name}`], { encoding: "utf8" }).trim()).toBe("");
    expect(execFileSync("docker", ["volume", "ls", "-q", "--filter", `name=${launched.name}-host-services`], { encoding: "utf8" }).trim()).toBe("");
  });
});
