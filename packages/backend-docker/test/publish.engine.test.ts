import { execFileSync } from "node:child_process";
import { mkdtempSync, copyFileSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ErrorCodes, type PublishedPort, type ResolvedAgent } from "@claude-bottle/core";
import { captureStdio, testSpec } from "@claude-bottle/core/testing";
import { buildTestNodeImage } from "@claude-bottle/test-support";
import type Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDockerBackend } from "../src/index.js";
import { createTestContext, rejectionOf, removeHomesOfAgents, uniqueSuffix, useTestEngine } from "./support/engine.js";

const FIXTURES = fileURLToPath(new URL("./fixtures/ports/", import.meta.url));
const suffix = uniqueSuffix();

/** A port nothing on this machine listens on now, on 127.0.0.1. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** GET http://HOST:PORT/path from the host: the body, or the error's code. */
function fetchFromHost(host: string, port: number, path = "/"): Promise<{ ok: boolean; body?: string; error?: string }> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, timeout: 5000 }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ ok: res.statusCode === 200, body }));
    });
    req.on("timeout", () => req.destroy(Object.assign(new Error("timed out"), { code: "TIMEOUT" })));
    req.on("error", (error: NodeJS.ErrnoException) => resolve({ ok: false, error: error.code ?? error.message }));
    req.end();
  });
}

/** Polls until the bottle's server answers on the host (it starts a moment after the bottle). */
async function untilServed(port: number): Promise<{ ok: boolean; body?: string; error?: string }> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const result = await fetchFromHost("127.0.0.1", port);
    if (result.ok || Date.now() > deadline) return result;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** This machine's addresses other than loopback: the LAN's, the engine's bridges'. */
function otherAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((entries) => entries ?? [])
    .filter((entry) => !entry.internal && entry.family === "IPv4")
    .map((entry) => entry.address);
}

const hasIpv6Loopback = Object.values(networkInterfaces()).some((entries) => entries?.some((e) => e.internal && e.family === "IPv6"));

/**
 * SECURITY.md point 9 on the docker backend: a published port is on the
 * user's loopback and nowhere else, with real traffic from this host into a
 * bottle on its internal network; nothing here leaves the machine.
 */
describe("published ports (docker)", () => {
  let docker: Dockerode;
  let nodeImage: string;
  const workspace = mkdtempSync(join(tmpdir(), "claude-bottle-publish-ws-"));
  copyFileSync(join(FIXTURES, "serve.cjs"), join(workspace, "serve.cjs"));
  const slug = `publish-test-${suffix}`;
  const started: string[] = [];

  const agent = (ports: PublishedPort[], command = ["node", "/workspace/serve.cjs", "3000"]): ResolvedAgent => ({
    slug,
    origin: "user",
    image: { kind: "ref", ref: nodeImage },
    command,
    args: [],
    workspace,
    mounts: [],
    env: [],
    network: true,
    egress: { mode: "allow", allow: [], deny: [], allowPrivate: [] },
    resources: {},
    ports,
  });
  const backend = () => createDockerBackend({ egress: { image: nodeImage } });
  const startDetached = async (ports: PublishedPort[]) => {
    const b = backend();
    const ctx = createTestContext();
    const launched = await b.launch(await b.prepare(testSpec(agent(ports)), ctx), { extraArgs: [], detach: true, stdio: captureStdio().stdio }, ctx);
    started.push(launched.name);
    return launched.name;
  };
  const leftovers = (bottle: string) =>
    execFileSync("docker", ["ps", "-aq", "--filter", `label=dev.claude-bottle.egress-for=${bottle}`], { encoding: "utf8" }).trim() +
    execFileSync("docker", ["network", "ls", "-q", "--filter", `label=dev.claude-bottle.egress-for=${bottle}`], { encoding: "utf8" }).trim();

  useTestEngine((found) => (docker = found));

  beforeAll(() => {
    nodeImage = buildTestNodeImage();
  });

  afterAll(async () => {
    const ctx = createTestContext();
    for (const name of started) await backend().remove!(name, { force: true }, ctx).catch(() => {});
    if (docker) await removeHomesOfAgents(docker, slug);
  });

  it("serves the bottle's port 3000 on the host's 127.0.0.1 (and [::1]), and on none of the machine's other addresses", async () => {
    const port = await freePort();
    const name = await startDetached([{ host: port, bottle: 3000 }]);
    expect(await untilServed(port)).toMatchObject({ ok: true, body: "dev server in the bottle, /\n" });
    if (hasIpv6Loopback) expect(await fetchFromHost("::1", port, "/six")).toMatchObject({ ok: true, body: "dev server in the bottle, /six\n" });
    // The attack: the same port from the LAN's side, or a bridge's, where another machine or container would come from.
    const others = otherAddresses();
    expect(others.length).toBeGreaterThan(0);
    for (const address of others) expect(await fetchFromHost(address, port), `${address}:${port}`).toMatchObject({ ok: false });
    expect((await backend().list!(createTestContext())).find((b) => b.name === name)?.ports).toEqual([{ host: port, bottle: 3000 }]);
  });

  it("publishes for an attached bottle too, and takes the port away when it ends", async () => {
    const port = await freePort();
    const b = backend();
    const ctx = createTestContext();
    // The dev server answers once, then the agent ends.
    const once = `require("http").createServer((q,s)=>{s.end("once");setTimeout(()=>process.exit(0),100)}).listen(3000,"0.0.0.0")`;
    const run = b.launch(await b.prepare(testSpec(agent([{ host: port, bottle: 3000 }], ["node", "-e", once])), ctx), { extraArgs: [], detach: false, stdio: captureStdio().stdio }, ctx);
    expect(await untilServed(port)).toMatchObject({ ok: true, body: "once" });
    const launched = await run;
    expect(launched).toMatchObject({ exitCode: 0 });
    // Removed in the background after an attached run: give it a moment.
    const deadline = Date.now() + 15_000;
    while (leftovers(launched.name) !== "" && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
    expect(leftovers(launched.name)).toBe("");
    expect(await fetchFromHost("127.0.0.1", port)).toMatchObject({ ok: false });
  });

  it("refuses a second bottle on a host port another has, clearly and leaving nothing of it", async () => {
    const port = await freePort();
    await startDetached([{ host: port, bottle: 3000 }]);
    expect(await untilServed(port)).toMatchObject({ ok: true });
    const b = backend();
    const ctx = createTestContext();
    const error = await rejectionOf(b.prepare(testSpec(agent([{ host: port, bottle: 3000 }]), { name: `${slug}-second` }), ctx).then((p) => b.launch(p, { extraArgs: [], detach: true, stdio: captureStdio().stdio }, ctx)));
    expect(error).toMatchObject({ code: ErrorCodes.PORT_IN_USE, message: expect.stringContaining(`Port ${port} of your loopback is taken`) });
    expect(error.hint).toContain(`--publish ${port + 1}:3000`);
    expect(execFileSync("docker", ["ps", "-aq", "--filter", `name=^/${slug}-second`], { encoding: "utf8" }).trim()).toBe("");
    expect(leftovers(`${slug}-second`)).toBe("");
    // The first bottle still serves.
    expect(await fetchFromHost("127.0.0.1", port)).toMatchObject({ ok: true });
  });

  it("publishes a port of a running bottle, refuses a host port it already has, and rm leaves nothing", async () => {
    const name = await startDetached([]);
    const port = await freePort();
    const b = backend();
    const ctx = createTestContext();
    await b.publish!(name, { port: { host: port, bottle: 3000 } }, ctx);
    expect(await untilServed(port)).toMatchObject({ ok: true, body: "dev server in the bottle, /\n" });
    expect(await rejectionOf(b.publish!(name, { port: { host: port, bottle: 4000 } }, ctx))).toMatchObject({ code: ErrorCodes.PORT_IN_USE });
    // A port a program of the host holds is refused the same way.
    const held = createServer();
    await new Promise<void>((resolve) => held.listen(0, "127.0.0.1", resolve));
    const heldPort = (held.address() as { port: number }).port;
    try {
      expect(await rejectionOf(b.publish!(name, { port: { host: heldPort, bottle: 3000 } }, ctx))).toMatchObject({ code: ErrorCodes.PORT_IN_USE });
    } finally {
      held.close();
    }
    await b.remove!(name, { force: true }, ctx);
    expect(leftovers(name)).toBe("");
    expect(await fetchFromHost("127.0.0.1", port)).toMatchObject({ ok: false });
  });

  it("gives the bottle no way out through its forwarder: on the bottle's network nothing of it answers", async () => {
    const port = await freePort();
    const name = await startDetached([{ host: port, bottle: 3000 }]);
    expect(await untilServed(port)).toMatchObject({ ok: true });
    const forwarder = await docker.getContainer(`${name}-publish-${port}`).inspect();
    const address = forwarder.NetworkSettings.Networks[`${name}-net`]?.IPAddress;
    expect(address).toBeTruthy();
    // From inside the bottle: the forwarder's address on its network, at the forwarded port and at the proxy's.
    const io = captureStdio();
    const probe = `const net=require("net");for(const p of [3000,3128]){const s=net.connect(p,${JSON.stringify(address)});s.on("connect",()=>{console.log("open "+p);s.destroy()});s.on("error",e=>console.log("closed "+p+" "+e.code));}`;
    const code = await backend().exec!(name, { command: ["node", "-e", probe], stdio: io.stdio }, createTestContext());
    expect(code).toBe(0);
    expect(io.stdout()).toContain("closed 3000 ECONNREFUSED");
    expect(io.stdout()).toContain("closed 3128 ECONNREFUSED");
    expect(io.stdout()).not.toContain("open");
  });
});
