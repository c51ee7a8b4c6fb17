/**
 * The anchor and the proxy as the sidecar runs them (dist/anchor.js, dist/main.js
 * --anchor, separate processes sharing one network namespace: here, this machine's):
 * while no proxy runs, the anchor answers at the proxy's address with a 503 that
 * names the proxy and the way back; a proxy takes the port over, and when it is
 * killed the anchor answers again at once.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanUp, connectVia, deadPort, startHttpServer, viaProxy } from "./support.js";

const dist = (file: string) => fileURLToPath(new URL(`../dist/${file}`, import.meta.url));
const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  await cleanUp();
});

/** Starts a built entry; resolves once it printed a line matching `ready`. */
async function run(file: string, args: string[], ready: RegExp): Promise<ChildProcess> {
  const child = spawn(process.execPath, [dist(file), ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => ready.test(line) && resolve());
    child.once("exit", (code) => reject(new Error(`${file} exited ${code}: ${stderr}`)));
  });
  return child;
}

/** What a plain connection to the port gets: the anchor's 503 or, from the proxy, its 400 to a bad request. */
function answerAt(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write("GET /\r\n\r\n"));
    let text = "";
    socket.on("data", (c: Buffer) => (text += c.toString()));
    socket.on("close", () => resolve(text));
    socket.on("error", reject);
  });
}

describe("the anchor", () => {
  it("stands in with a 503 naming the proxy while none runs, gives the port to a proxy, and takes it back the moment the proxy is killed", { timeout: 20_000 }, async () => {
    const web = await startHttpServer();
    const port = await deadPort();
    const dir = mkdtempSync(join(tmpdir(), "egress-anchor-"));
    dirs.push(dir);
    writeFileSync(join(dir, "policy.json"), JSON.stringify({ mode: "allow", allow: ["127.0.0.1"], allowPrivate: ["127.0.0.1/32"] }));
    const proxyArgs = ["--policy", join(dir, "policy.json"), "--listen", `127.0.0.1:${port}`, "--anchor"];

    await run("anchor.js", ["--listen-in", "127.0.0.1/32", "--port", String(port), "--bottle", "my-bottle"], /^standing in on 127\.0\.0\.1:/);
    const standIn = await answerAt(port);
    expect(standIn).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(standIn).toContain("this bottle's egress proxy is not running (it crashed or was killed)");
    expect(standIn).toContain("On the host: claude-bottle proxy restart my-bottle");
    // A CONNECT gets the same answer, not a tunnel.
    expect(await connectVia({ port }, `127.0.0.1:${web.port}`)).toMatchObject({ status: 503 });

    const proxy = await run("main.js", proxyArgs, /^listening on /);
    expect((await viaProxy({ port }, `http://127.0.0.1:${web.port}/`)).status).toBe(200);

    proxy.kill("SIGKILL");
    await once(proxy, "exit");
    // The anchor stands in as soon as it sees the proxy's connection close (a refused connect meanwhile fails at once too).
    const started = performance.now();
    await vi.waitFor(async () => expect(await answerAt(port).catch(String)).toMatch(/^HTTP\/1\.1 503 /), { timeout: 2000, interval: 20 });
    expect(performance.now() - started).toBeLessThan(2000);
    expect(web.seen).toHaveLength(1);

    // Started again, at the same address: traffic flows once more.
    await run("main.js", proxyArgs, /^listening on /);
    expect((await viaProxy({ port }, `http://127.0.0.1:${web.port}/`)).status).toBe(200);
  });

  it("keeps a proxy with --anchor from starting where no anchor comes", { timeout: 20_000 }, async () => {
    const port = await deadPort();
    const dir = mkdtempSync(join(tmpdir(), "egress-anchor-"));
    dirs.push(dir);
    writeFileSync(join(dir, "policy.json"), JSON.stringify({ mode: "all" }));
    const child = spawn(process.execPath, [dist("main.js"), "--policy", join(dir, "policy.json"), "--listen", `127.0.0.1:${port}`, "--anchor"], { stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const [code] = (await once(child, "exit")) as [number];
    expect(code).toBe(1);
    expect(stderr, stderr).toMatch(/--anchor: cannot reach the anchor: ECONNREFUSED/);
  });
});
