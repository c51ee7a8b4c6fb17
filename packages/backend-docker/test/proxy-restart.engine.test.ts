import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bottleErrorOf, captureStdio, testSpec } from "@claude-bottle/core/testing";
import type { ResolvedAgent } from "@claude-bottle/core";
import { buildTestNodeImage } from "@claude-bottle/test-support";
import type Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDockerBackend, type DockerBackendOptions } from "../src/index.js";
import { createTestContext, removeHomesOfAgents, uniqueSuffix, useTestEngine } from "./support/engine.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const suffix = uniqueSuffix();

/**
 * Run in the bottle: one request through its proxy (HTTP_PROXY), printed as JSON
 * with how long it took. Its own 30 s timer is the "hang" a dead proxy must not cause.
 */
const PROBE = `
const http = require("node:http");
const proxy = new URL(process.env.HTTP_PROXY);
const started = Date.now();
const done = (result) => { console.log(JSON.stringify({ ...result, ms: Date.now() - started })); process.exit(0); };
setTimeout(() => done({ ok: false, error: "hung for 30 s" }), 30000);
const req = http.request({ host: proxy.hostname, port: proxy.port, path: "http://allowed.test:8080/", headers: { Host: "allowed.test:8080" } }, (res) => {
  let body = "";
  res.on("data", (c) => (body += c));
  res.on("end", () => done({ ok: res.statusCode === 200, status: res.statusCode, body }));
});
req.on("error", (err) => done({ ok: false, error: err.message }));
req.end();
`;

/**
 * The proxy dies while its bottle runs (SIGKILL, as the OOM killer sends; or
 * removed): the bottle's requests fail at once with a 503 from the anchor that
 * names the proxy (without the anchor they hung: nobody held the address), `ls`
 * says the bottle is degraded and why, and restartProxy brings the proxy back at
 * the address the bottle uses while the agent keeps running. Everything stays on
 * this machine: the server is a container on a network this test creates.
 */
describe("a bottle whose egress proxy dies (docker)", () => {
  let docker: Dockerode;
  let nodeImage: string;
  let serverIp: string;
  let testServer: TestServer | undefined;
  const network = `cb-proxy-restart-${suffix}`;
  const server = `cb-proxy-restart-server-${suffix}`;
  const workspace = mkdtempSync(join(tmpdir(), "claude-bottle-proxy-restart-ws-"));

  useTestEngine((found) => (docker = found));

  beforeAll(async () => {
    nodeImage = buildTestNodeImage();
    testServer = await startTestServer(docker, {
      name: server,
      network,
      image: nodeImage,
      cmd: ["node", "-e", 'require("node:http").createServer((q, s) => s.end("hello")).listen(8080)'],
      suffix,
    });
    serverIp = testServer.ip;
  });

  afterAll(async () => {
    await testServer?.remove();
    if (docker) await removeHomesOfAgents(docker, `proxy-restart-${suffix}`);
    execFileSync("rm", ["-rf", workspace]);
  });

  const settings = (): DockerBackendOptions["egress"] => ({ image: nodeImage, extraHosts: { "allowed.test": serverIp }, dns: ["127.0.0.1"], networks: [network] });
  const agent = (): ResolvedAgent => ({
    slug: `proxy-restart-${suffix}`,
    origin: "user",
    image: { kind: "ref", ref: nodeImage },
    // The agent: a process that runs until stopped, whose start time shows it was never restarted.
    command: ["node", "-e", "setInterval(() => {}, 60000)"],
    args: [],
    workspace,
    mounts: [],
    env: [],
    network: true,
    egress: { mode: "allow", allow: ["allowed.test"], deny: [], allowPrivate: [`${serverIp}/32`] },
    resources: {},
  });

  it("fails the bottle's requests at once, shows it degraded, and comes back with restartProxy without restarting the agent", async () => {
    const backend = createDockerBackend({ egress: settings() });
    const ctx = createTestContext();
    const { name } = await backend.launch(await backend.prepare(testSpec(agent()), ctx), { extraArgs: [], detach: true, stdio: captureStdio().stdio }, ctx);
    const probe = async () => {
      const io = captureStdio();
      await backend.exec!(name, { command: ["node", "-e", PROBE], stdio: io.stdio }, ctx);
      return JSON.parse(io.stdout().trim().split("\n").pop()!) as { ok: boolean; status?: number; body?: string; error?: string; ms: number };
    };
    const listed = async () => (await backend.list!(ctx)).find((b) => b.name === name);
    const agentStarted = async () => (await docker.getContainer(name).inspect()).State.StartedAt;
    try {
      const startedAt = await agentStarted();
      expect(await probe()).toMatchObject({ ok: true, status: 200, body: "hello" });
      expect((await listed())?.degraded).toBeUndefined();

      // Killed, as the OOM killer or a crash would end it.
      await docker.getContainer(`${name}-egress`).kill({ signal: "SIGKILL" });
      // The anchor answers for it at once, naming it and the way back.
      const failed = await probe();
      process.stdout.write(`with its proxy killed, the bottle's request got ${failed.status} after ${failed.ms} ms: ${failed.body}`);
      expect(failed).toMatchObject({ ok: false, status: 503 });
      expect(failed.body).toContain("this bottle's egress proxy is not running (it crashed or was killed)");
      expect(failed.body).toContain(`claude-bottle proxy restart ${name}`);
      expect(failed.ms).toBeLessThan(5_000);
      const degraded = await listed();
      expect(degraded?.state).toBe("running");
      expect(degraded?.degraded).toMatch(/^its egress proxy is not running \(exited \(137\).*\): every request it makes fails$/);

      await backend.restartProxy!(name, {}, ctx);
      expect((await listed())?.degraded).toBeUndefined();
      expect(await probe()).toMatchObject({ ok: true, status: 200, body: "hello" });

      // Removed altogether: made again from the policy its start left, on the same address.
      await docker.getContainer(`${name}-egress`).remove({ force: true });
      expect((await listed())?.degraded).toBe("its egress proxy is gone: every request it makes fails");
      await backend.restartProxy!(name, {}, ctx);
      expect(await probe()).toMatchObject({ ok: true, status: 200 });
      // Its policy is the bottle's own: what it refuses is refused, and recorded for logs --egress.
      const refused = captureStdio();
      await backend.exec!(name, { command: ["node", "-e", PROBE.replaceAll("allowed.test", "other.test")], stdio: refused.stdio }, ctx);
      expect(refused.stdout()).toContain('"status":403');
      const denials = captureStdio();
      await backend.logs!(name, { follow: false, egress: true, stdio: denials.stdio }, ctx);
      expect(denials.stdout()).toContain('"reason":"not-allowed"');

      // A running proxy is left as it is.
      const proxyStarted = (await docker.getContainer(`${name}-egress`).inspect()).State.StartedAt;
      await backend.restartProxy!(name, {}, ctx);
      expect((await docker.getContainer(`${name}-egress`).inspect()).State.StartedAt).toBe(proxyStarted);

      // The agent ran on through all of it.
      expect(await agentStarted()).toBe(startedAt);
    } finally {
      await backend.remove!(name, { force: true }, ctx);
    }
  });

  it("answers for a dead proxy that held credentials too, and says why restarting it alone cannot bring them back", async () => {
    const backend = createDockerBackend({ egress: settings() });
    const ctx = createTestContext({ env: { EXAMPLE_TOKEN: `real-value-${suffix}` } });
    const { name } = await backend.launch(
      await backend.prepare(testSpec({ ...agent(), credentials: [{ env: "EXAMPLE_TOKEN", hosts: ["allowed.test"] }] }), ctx),
      { extraArgs: [], detach: true, stdio: captureStdio().stdio },
      ctx,
    );
    try {
      await docker.getContainer(`${name}-egress`).kill({ signal: "SIGKILL" });
      const io = captureStdio();
      await backend.exec!(name, { command: ["node", "-e", PROBE], stdio: io.stdio }, ctx);
      expect(io.stdout()).toContain('"status":503');
      const error = await bottleErrorOf(backend.restartProxy!(name, {}, ctx));
      expect(error.code).toBe("DOCKER_EGRESS_FAILED");
      expect(error.message).toContain("held its credentials (and the bottle's CA key) in memory only");
      expect(error.hint).toContain(`claude-bottle stop ${name}`);
      expect(JSON.stringify(error)).not.toContain(`real-value-${suffix}`);
    } finally {
      await backend.remove!(name, { force: true }, ctx);
    }
  });

  it("refuses to restart the proxy of a bottle that does not run, or has no network", async () => {
    const backend = createDockerBackend({ egress: settings() });
    const ctx = createTestContext();
    const { name } = await backend.launch(await backend.prepare(testSpec({ ...agent(), network: false }), ctx), { extraArgs: [], detach: true, stdio: captureStdio().stdio }, ctx);
    try {
      expect((await bottleErrorOf(backend.restartProxy!(name, {}, ctx))).code).toBe("UNSUPPORTED");
      await backend.stop!(name, {}, ctx);
      expect((await bottleErrorOf(backend.restartProxy!(name, {}, ctx))).code).toBe("BOTTLE_NOT_RUNNING");
    } finally {
      await backend.remove!(name, { force: true }, ctx);
    }
  });
});
