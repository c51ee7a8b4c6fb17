import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BottleError, ISOLATIONS, type NetworkPolicy, type ResolvedAgent } from "@claude-bottle/core";
import { captureStdio, testSpec } from "@claude-bottle/core/testing";
import { buildTestNodeImage } from "@claude-bottle/test-support";
import type Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDockerBackend, type DockerBackendOptions } from "../src/index.js";
import { PROXY_PORT } from "../src/egress/sidecar.js";
import { createTestContext, removeHomesOfAgents, uniqueSuffix, useTestEngine } from "./support/engine.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const FIXTURES = fileURLToPath(new URL("./fixtures/egress/", import.meta.url));
const CERTS = fileURLToPath(new URL("../../egress-proxy/test/fixtures/", import.meta.url));
const fileSuffix = uniqueSuffix();

interface Probe {
  name: string;
  ok: boolean;
  status?: number;
  body?: string;
  error?: string;
}

/**
 * SECURITY.md point 3 on the docker backend, with real traffic that never
 * leaves this machine: the test servers are containers on a network this test
 * creates, the proxy learns their names from a hosts list (its DNS points at
 * loopback), and every address outside is refused inside the proxy before
 * anything is sent. Under both runtimes: the bottle and its proxy on runc, then
 * both on gVisor (the test servers, the outside world, stay on runc).
 */
describe.each(ISOLATIONS)("egress policy (docker, %s)", (isolation) => {
  const suffix = `${fileSuffix}-${isolation}`;
  let docker: Dockerode;
  let nodeImage: string;
  let serverIp: string;
  let testServer: TestServer | undefined;
  let subnet: string;
  const network = `cb-egress-test-${suffix}`;
  const server = `cb-egress-server-${suffix}`;
  const workspace = mkdtempSync(join(tmpdir(), "claude-bottle-egress-ws-"));
  const record = mkdtempSync(join(tmpdir(), "claude-bottle-egress-record-"));
  copyFileSync(join(FIXTURES, "probe.cjs"), join(workspace, "probe.cjs"));
  copyFileSync(join(CERTS, "cert.pem"), join(workspace, "ca.pem"));

  const settings = (): DockerBackendOptions["egress"] => ({
    image: nodeImage,
    extraHosts: { "allowed.test": serverIp, "other.test": serverIp, "ported.test": serverIp, "rebind.test": "10.0.0.5", "meta.test": "169.254.169.254" },
    dns: ["127.0.0.1"],
    networks: [network],
  });
  const agent = (egress: NetworkPolicy, steps: object[]): ResolvedAgent => ({
    slug: `egress-test-${suffix}`,
    origin: "user",
    image: { kind: "ref", ref: nodeImage },
    command: ["node", "/workspace/probe.cjs", JSON.stringify({ ca: "/workspace/ca.pem", steps })],
    args: [],
    workspace,
    mounts: [],
    env: [],
    network: true,
    egress,
    resources: {},
    isolation,
  });
  const allowTestServer = (extra: Partial<Extract<NetworkPolicy, { mode: "allow" }>> = {}): NetworkPolicy => ({
    mode: "allow",
    allow: ["allowed.test", "rebind.test", "meta.test"],
    deny: [],
    allowPrivate: [subnet],
    ...extra,
  });
  const probes = (stdout: string): Record<string, Probe> =>
    Object.fromEntries(
      stdout
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as Probe)
        .map((probe) => [probe.name, probe]),
    );
  // This run's only, when it names itself: other runs share the engine and have proxies of their own.
  const ownRun = process.env.CLAUDE_BOTTLE_TEST_RUN ? ["--filter", `label=dev.claude-bottle.test-run=${process.env.CLAUDE_BOTTLE_TEST_RUN}`] : [];
  const egressLeftovers = () =>
    execFileSync("docker", ["ps", "-aq", "--filter", "label=dev.claude-bottle.egress-for", ...ownRun], { encoding: "utf8" }).trim() +
    execFileSync("docker", ["network", "ls", "-q", "--filter", "label=dev.claude-bottle.egress-for", ...ownRun], { encoding: "utf8" }).trim();

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
    subnet = `${serverIp}/32`;
  });

  afterAll(async () => {
    await testServer?.remove();
    if (docker) await removeHomesOfAgents(docker, `egress-test-${suffix}`);
  });

  it("reaches an allowed name over HTTP and HTTPS, and refuses the rest before anything leaves", async () => {
    const backend = createDockerBackend({ egress: settings() });
    const ctx = createTestContext();
    const io = captureStdio();
    const steps = [
      { name: "http allowed", http: "http://allowed.test:8080/hi" },
      { name: "https allowed", connect: { host: "allowed.test", port: 8443 } },
      { name: "off the list", http: "http://other.test:8080/" },
      { name: "https off the list", connect: { host: "other.test", port: 8443 } },
      { name: "ip literal", http: `http://${serverIp}:8080/` },
      { name: "metadata literal", http: "http://169.254.169.254/latest/meta-data/" },
      { name: "metadata by name", http: "http://meta.test/" },
      { name: "rebinding", http: "http://rebind.test:8080/" },
      { name: "direct tcp", direct: { host: serverIp, port: 8080 } },
      { name: "lookup", lookup: "allowed.test" },
      { name: "embedded dns", resolve: "allowed.test", server: "127.0.0.11" },
    ];
    const launched = await backend.launch(await backend.prepare(testSpec(agent(allowTestServer(), steps)), ctx), { extraArgs: [], detach: false, stdio: io.stdio }, ctx);
    expect(launched).toMatchObject({ exitCode: 0 });
    const result = probes(io.stdout());
    expect(result["http allowed"]).toMatchObject({ ok: true, status: 200, body: "hello from allowed.test:8080 /hi\n" });
    expect(result["https allowed"]).toMatchObject({ ok: true, status: 200, body: "hello from allowed.test:8443 /\n" });
    expect(result["off the list"]).toMatchObject({ ok: false, status: 403, body: expect.stringContaining("not on this bottle's allow-list") });
    expect(result["https off the list"]).toMatchObject({ ok: false, status: 403 });
    expect(result["ip literal"]).toMatchObject({ ok: false, status: 403 });
    expect(result["metadata literal"]).toMatchObject({ ok: false, status: 403 });
    expect(result["metadata by name"]).toMatchObject({ ok: false, status: 403, body: expect.stringContaining("169.254.169.254") });
    expect(result["rebinding"]).toMatchObject({ ok: false, status: 403, body: expect.stringContaining("10.0.0.5") });
    expect(result["direct tcp"]).toMatchObject({ ok: false });
    expect(result["lookup"]).toMatchObject({ ok: false });
    expect(result["embedded dns"]).toMatchObject({ ok: false });
    expect(egressLeftovers()).toBe("");
  });

  it("refuses the metadata address and private ranges even with network: true", async () => {
    const backend = createDockerBackend({ egress: settings() });
    const ctx = createTestContext();
    const io = captureStdio();
    const steps = [
      { name: "metadata", http: "http://169.254.169.254/" },
      { name: "private", http: `http://${serverIp}:8080/` },
      { name: "loopback", http: "http://127.0.0.1:8080/" },
    ];
    await backend.launch(await backend.prepare(testSpec(agent({ mode: "all", deny: [], allowPrivate: [] }, steps)), ctx), { extraArgs: [], detach: false, stdio: io.stdio }, ctx);
    const result = probes(io.stdout());
    for (const name of ["metadata", "private", "loopback"]) expect(result[name]).toMatchObject({ ok: false, status: 403 });
  });

  it("records every refusal for logs --egress, keeps one bottle from another, and leaves nothing after rm", async () => {
    const backend = createDockerBackend({ egress: settings() });
    const ctx = createTestContext();
    const sleeper = await backend.launch(
      await backend.prepare(testSpec({ ...agent(allowTestServer(), []), command: ["node", "-e", "setTimeout(() => {}, 120000)"] }), ctx),
      { extraArgs: [], detach: true, stdio: captureStdio().stdio },
      ctx,
    );
    const sleeperIp = (await docker.getContainer(sleeper.name).inspect()).NetworkSettings.Networks[`${sleeper.name}-net`]!.IPAddress;
    const prober = await backend.launch(
      await backend.prepare(testSpec(
        agent(allowTestServer({ deny: ["rebind.test"] }), [
          { name: "off the list", http: "http://other.test:8080/" },
          { name: "denied", http: "http://rebind.test:8080/" },
          { name: "other bottle", direct: { host: sleeperIp, port: 3128 } },
          { name: "other bottle's proxy", http: `http://${sleeperIp}:3128/` },
        ])),
        ctx,
      ),
      { extraArgs: [], detach: true, stdio: captureStdio().stdio },
      ctx,
    );
    await docker.getContainer(prober.name).wait();
    const output = captureStdio();
    await backend.logs!(prober.name, { follow: false, stdio: output.stdio }, ctx);
    const result = probes(output.stdout());
    expect(result["other bottle"]).toMatchObject({ ok: false });
    expect(result["other bottle's proxy"]).toMatchObject({ ok: false, status: 403 });

    const denials = captureStdio();
    await backend.logs!(prober.name, { follow: false, egress: true, stdio: denials.stdio }, ctx);
    const records = denials
      .stdout()
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { time: string; host: string; port: number; reason: string });
    expect(records).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ host: "other.test", port: 8080, reason: "not-allowed" }),
        expect.objectContaining({ host: "rebind.test", port: 8080, reason: "denied" }),
      ]),
    );
    expect(Date.parse(records[0]!.time)).not.toBeNaN();

    // `ls` does not show the proxies; rm takes a bottle's proxy and network with it.
    const listed = (await backend.list!(ctx)).map((b) => b.name);
    expect(listed).toEqual(expect.arrayContaining([sleeper.name, prober.name]));
    expect(listed.some((name) => name.endsWith("-egress"))).toBe(false);
    await backend.remove!(prober.name, { force: true }, ctx);
    await backend.stop!(sleeper.name, {}, ctx);
    await backend.remove!(sleeper.name, { force: true }, ctx);
    expect(egressLeftovers()).toBe("");
  });

  it("injects a credential into requests to its host only: the bottle, docker inspect and every other host see a placeholder", async () => {
    const secret = `sk-ant-api03-real-value-${suffix}`;
    const backend = createDockerBackend({ egress: { ...settings(), upstreamCa: readFileSync(join(CERTS, "cert.pem"), "utf8") } });
    const ctx = createTestContext({ env: { EXAMPLE_TOKEN: secret } });
    const io = captureStdio();
    const theAgent: ResolvedAgent = {
      ...agent(allowTestServer({ allow: ["allowed.test", "ported.test"] }), [
        { name: "held", env: "EXAMPLE_TOKEN" },
        { name: "bound", connect: { host: "allowed.test", port: 8443, path: "/bound", headers: { Authorization: "Bearer ${env:EXAMPLE_TOKEN}" }, ca: "/etc/claude-bottle/egress-ca.pem" } },
        { name: "unbound", connect: { host: "ported.test", port: 8443, path: "/unbound", headers: { Authorization: "Bearer ${env:EXAMPLE_TOKEN}" }, ca: "/workspace/ca.pem" } },
        { name: "in the query", connect: { host: "allowed.test", port: 8443, path: "/leak?key=${env:EXAMPLE_TOKEN}", ca: "/etc/claude-bottle/egress-ca.pem" } },
      ]),
      credentials: [{ env: "EXAMPLE_TOKEN", hosts: ["allowed.test"] }],
    };
    const launched = await backend.launch(await backend.prepare(testSpec(theAgent), ctx), { extraArgs: [], detach: true, stdio: io.stdio }, ctx);
    try {
      await docker.getContainer(launched.name).wait();
      const output = captureStdio();
      await backend.logs!(launched.name, { follow: false, stdio: output.stdio }, ctx);
      const result = probes(output.stdout());
      const placeholder = (result["held"] as Probe & { value: string }).value;
      expect(placeholder).toMatch(/^sk-ant-api03-claude-bottle-placeholder-[0-9a-f]{32}$/);
      expect(result["bound"], JSON.stringify(result)).toMatchObject({ ok: true, status: 200 });
      expect(result["unbound"]).toMatchObject({ ok: true, status: 200 });
      expect(result["in the query"]).toMatchObject({ ok: false, status: 403 });

      const seen = readFileSync(join(record, "requests.log"), "utf8").trim().split("\n").map((line) => JSON.parse(line) as { url: string; authorization: string | null });
      expect(seen.find((r) => r.url === "/bound")?.authorization).toBe(`Bearer ${secret}`);
      expect(seen.find((r) => r.url === "/unbound")?.authorization).toBe(`Bearer ${placeholder}`);
      expect(seen.some((r) => r.url.startsWith("/leak"))).toBe(false);

      // Nowhere the engine keeps or shows: the bottle's and the proxy's configuration, labels, command lines.
      for (const container of [launched.name, `${launched.name}-egress`]) {
        expect(JSON.stringify(await docker.getContainer(container).inspect())).not.toContain(secret);
      }
      expect(output.stdout() + output.stderr()).not.toContain(secret);
    } finally {
      await backend.remove!(launched.name, { force: true }, ctx);
    }
    expect(egressLeftovers()).toBe("");
  });

  it("serves only its own bottle: from the default bridge or another network the proxy is on, nothing answers", async () => {
    const secret = `sk-ant-api03-real-value-${suffix}`;
    const backend = createDockerBackend({ egress: { ...settings(), upstreamCa: readFileSync(join(CERTS, "cert.pem"), "utf8") } });
    const ctx = createTestContext({ env: { EXAMPLE_TOKEN: secret } });
    const sleeper = await backend.launch(
      await backend.prepare(testSpec(
        { ...agent(allowTestServer(), []), command: ["node", "-e", "setTimeout(() => {}, 120000)"], credentials: [{ env: "EXAMPLE_TOKEN", hosts: ["allowed.test"] }] }),
        ctx,
      ),
      { extraArgs: [], detach: true, stdio: captureStdio().stdio },
      ctx,
    );
    try {
      // The proxy runs in its anchor's network namespace: the anchor's addresses are the proxy's.
      const proxy = (await docker.getContainer(`${sleeper.name}-egress-anchor`).inspect()).NetworkSettings.Networks;
      // What any container on one of those networks would try: CONNECT to the credential's host through the proxy.
      const attempt = async (from: string, address: string) => {
        const script = `const s=require("net").connect(${PROXY_PORT},${JSON.stringify(address)});s.setTimeout(5000,()=>{console.log("timeout");s.destroy()});s.on("connect",()=>s.write("CONNECT allowed.test:8443 HTTP/1.1\\r\\nHost: allowed.test:8443\\r\\n\\r\\n"));s.on("data",d=>{console.log(String(d).split("\\r\\n")[0]);s.destroy()});s.on("error",e=>console.log(e.code))`;
        // A TTY: its log is the plain output, without the engine's stream headers.
        const container = await docker.createContainer({ Image: nodeImage, Cmd: ["node", "-e", script], Tty: true, Labels: { "dev.claude-bottle.test": suffix }, HostConfig: { NetworkMode: from } });
        try {
          await container.start();
          await container.wait();
          return (await container.logs({ stdout: true, stderr: true })).toString().trim();
        } finally {
          await container.remove({ force: true });
        }
      };
      // The bottle's own network: the proxy answers (the same attempt works where it should).
      expect(await attempt(`${sleeper.name}-net`, proxy[`${sleeper.name}-net`]!.IPAddress)).toBe("HTTP/1.1 200 Connection Established");
      // The engine's default bridge (the proxy's way out) and a network it joins for the policy (a compose stack's).
      expect(await attempt("bridge", proxy["bridge"]!.IPAddress)).toBe("ECONNREFUSED");
      expect(await attempt(network, proxy[network]!.IPAddress)).toBe("ECONNREFUSED");
      // Another bottle's network has no route to it at all.
      const other = await backend.launch(
        await backend.prepare(testSpec({ ...agent(allowTestServer(), []), command: ["node", "-e", "setTimeout(() => {}, 120000)"] }), ctx),
        { extraArgs: [], detach: true, stdio: captureStdio().stdio },
        ctx,
      );
      try {
        expect(await attempt(`${other.name}-net`, proxy[`${sleeper.name}-net`]!.IPAddress)).toMatch(/^(timeout|EHOSTUNREACH|ENETUNREACH)$/);
      } finally {
        await backend.remove!(other.name, { force: true }, ctx);
      }
    } finally {
      await backend.remove!(sleeper.name, { force: true }, ctx);
    }
    expect(egressLeftovers()).toBe("");
  });

  it("removes the proxy when an attached start is interrupted, and reaps what a killed CLI left", async () => {
    const backend = createDockerBackend({ egress: settings() });
    const ctx = createTestContext();
    const launch = backend.launch(
      await backend.prepare(testSpec({ ...agent(allowTestServer(), []), command: ["node", "-e", "setTimeout(() => {}, 120000)"] }), ctx),
      { extraArgs: [], detach: false, stdio: captureStdio().stdio },
      ctx,
    );
    await waitFor(() => egressLeftovers() !== "");
    ctx.controller.abort();
    await expect(launch).rejects.toSatisfy((error: unknown) => BottleError.isInstance(error) && error.code === "ABORTED");
    expect(egressLeftovers()).toBe("");

    // As a CLI killed with SIGKILL leaves it: a proxy and a network whose bottle is gone.
    const orphan = `claude-bottle-orphan-${suffix}`;
    execFileSync("docker", ["network", "create", "--internal", "--label", `dev.claude-bottle.egress-for=${orphan}`, `${orphan}-net`]);
    execFileSync("docker", ["create", "--name", `${orphan}-egress`, "--label", `dev.claude-bottle.egress-for=${orphan}`, nodeImage, "true"]);
    await backend.list!(ctx);
    expect(egressLeftovers()).toBe("");
  });
});

async function waitFor(check: () => boolean, deadlineMs = 30_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
