import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bottleErrorOf, captureStdio, testSpec } from "@claude-bottle/core/testing";
import type { ResolvedAgent } from "@claude-bottle/core";
import { buildTestNodeImage } from "@claude-bottle/test-support";
import type Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDockerBackend, type DockerBackendOptions } from "../src/index.js";
import { createTestContext, removeHomesOfAgents, uniqueSuffix, useTestEngine } from "./support/engine.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const FIXTURES = fileURLToPath(new URL("./fixtures/egress/", import.meta.url));
const CERTS = fileURLToPath(new URL("../../egress-proxy/test/fixtures/", import.meta.url));
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
  // What reached the server (its Authorization headers), as the egress tests record it.
  const record = mkdtempSync(join(tmpdir(), "claude-bottle-proxy-restart-record-"));
  copyFileSync(join(FIXTURES, "probe.cjs"), join(workspace, "probe.cjs"));

  useTestEngine((found) => (docker = found));

  beforeAll(async () => {
    nodeImage = buildTestNodeImage();
    testServer = await startTestServer(docker, {
      name: server,
      network,
      image: nodeImage,
      cmd: ["node", "/fixtures/server.cjs"],
      binds: [`${record}:/record`, `${join(FIXTURES, "server.cjs")}:/fixtures/server.cjs:ro`, `${join(CERTS, "cert.pem")}:/fixtures/cert.pem:ro`, `${join(CERTS, "key.pem")}:/fixtures/key.pem:ro`],
      suffix,
    });
    serverIp = testServer.ip;
  });

  afterAll(async () => {
    await testServer?.remove();
    if (docker) await removeHomesOfAgents(docker, `proxy-restart-${suffix}`);
    execFileSync("rm", ["-rf", workspace, record]);
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
      expect(await probe()).toMatchObject({ ok: true, status: 200, body: "hello from allowed.test:8080 /\n" });
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
      expect(await probe()).toMatchObject({ ok: true, status: 200, body: "hello from allowed.test:8080 /\n" });

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

  it("gives a restarted proxy its credentials again from the host, on its stdin: the bound host gets the value, the bottle and the engine never see it", async () => {
    const secret = `sk-ant-api03-real-value-${suffix}`;
    const state = mkdtempSync(join(tmpdir(), "claude-bottle-proxy-restart-state-"));
    const backend = createDockerBackend({ egress: { ...settings(), upstreamCa: readFileSync(join(CERTS, "cert.pem"), "utf8") } });
    const ctx = createTestContext({ env: { EXAMPLE_TOKEN: secret, XDG_STATE_HOME: state } });
    const { name } = await backend.launch(
      await backend.prepare(testSpec({ ...agent(), credentials: [{ env: "EXAMPLE_TOKEN", hosts: ["allowed.test"] }] }), ctx),
      { extraArgs: [], detach: true, stdio: captureStdio().stdio },
      ctx,
    );
    /** A request to the bound host through the proxy, with the placeholder where the value goes; what the server saw for that path. */
    const bound = async (path: string) => {
      const steps = [{ name: "bound", connect: { host: "allowed.test", port: 8443, path, headers: { Authorization: "Bearer ${env:EXAMPLE_TOKEN}" }, ca: "/etc/claude-bottle/egress-ca.pem" } }];
      const io = captureStdio();
      await backend.exec!(name, { command: ["node", "/workspace/probe.cjs", JSON.stringify({ steps })], stdio: io.stdio }, ctx);
      const seen = readFileSync(join(record, "requests.log"), "utf8").trim().split("\n").map((line) => JSON.parse(line) as { url: string; authorization: string | null });
      return { probe: io.stdout(), authorization: seen.find((r) => r.url === path)?.authorization };
    };
    const proxy = docker.getContainer(`${name}-egress`);
    try {
      const startedAt = (await docker.getContainer(name).inspect()).State.StartedAt;
      expect(await bound("/before")).toMatchObject({ authorization: `Bearer ${secret}` });

      // Killed: the same container is started again, its values written on its stdin once more.
      await proxy.kill({ signal: "SIGKILL" });
      expect(await bound("/while-dead").then((r) => r.probe)).toContain('"status":503');
      // The value is not in this process's environment now: it comes the way the CLI looks it up (its env, else `login`'s store).
      const withoutValue = createTestContext({ env: { XDG_STATE_HOME: state }, cacheDir: ctx.cacheDir });
      const asked: string[] = [];
      const credential = async (variable: string) => (asked.push(variable), variable === "EXAMPLE_TOKEN" ? secret : undefined);
      await backend.restartProxy!(name, { credential }, withoutValue);
      expect(asked).toEqual(["EXAMPLE_TOKEN"]);
      const afterKill = await bound("/after-kill");
      expect(afterKill.authorization, afterKill.probe).toBe(`Bearer ${secret}`);

      // Removed altogether: a new proxy, made with stdin open, gets them the same way.
      await proxy.remove({ force: true });
      await backend.restartProxy!(name, { credential }, withoutValue);
      expect(await bound("/after-remove")).toMatchObject({ authorization: `Bearer ${secret}` });
      // Nowhere the engine keeps or shows: the new proxy's configuration, labels, command line.
      expect(JSON.stringify(await proxy.inspect())).not.toContain(secret);
      expect(await docker.getContainer(name).inspect().then((c) => c.State.StartedAt)).toBe(startedAt);

      // With the value nowhere: a clear error naming the variable (never a value), and the proxy stays down.
      await proxy.kill({ signal: "SIGKILL" });
      const error = await bottleErrorOf(backend.restartProxy!(name, {}, withoutValue));
      expect(error.code).toBe("ENV_NOT_SET");
      expect(error.message).toContain("EXAMPLE_TOKEN");
      expect(error.hint).toContain("claude-bottle login");
      expect(JSON.stringify(error)).not.toContain(secret);

      // The CA key the restart signs with is the host's only, in the state directory (0600), never the cache the bottle's CA certificate is in.
      const keyFile = join(state, "claude-bottle", "docker", "egress", `${name}.ca-key.pem`);
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      expect(readdirSync(join(ctx.cacheDir, "docker", "egress")).some((file) => readFileSync(join(ctx.cacheDir, "docker", "egress", file), "utf8").includes("PRIVATE KEY"))).toBe(false);
      await backend.remove!(name, { force: true }, ctx);
      expect(existsSync(keyFile)).toBe(false);
    } finally {
      // Already removed when every step above passed.
      await backend.remove!(name, { force: true }, ctx).catch(() => {});
      execFileSync("rm", ["-rf", state]);
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
