/**
 * The proxy under load, as the sidecar runs it (dist/main.js in its own process, real
 * sockets on loopback): many tunnels at once from one client, slow clients holding
 * connections, a client over its connection limit, idle tunnels. It prints the
 * process's resident memory; the bound asserted is generous (the sidecar's memory
 * limit is 256 MiB), what is exact is that the limits it was given hold and that
 * nothing is left open afterwards.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, onTestFinished, vi } from "vitest";
import { echoThrough, openFilesOf, openTunnel, rssOf, slowClient, startEchoServer } from "./load-support.js";
import { cleanUp, startProxy } from "./support.js";

const built = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const MiB = 2 ** 20;
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  await cleanUp();
});

/** The built proxy in a process of its own, allowing 127.0.0.1 only; resolves once it listens. */
async function startProxyProcess(args: string[]): Promise<{ child: ChildProcess; port: number; denials: { reason: string; detail: string }[] }> {
  if (!existsSync(built)) throw new Error(`${built} is missing: build the package first`);
  const dir = mkdtempSync(join(tmpdir(), "egress-load-"));
  dirs.push(dir);
  writeFileSync(join(dir, "policy.json"), JSON.stringify({ mode: "allow", allow: ["127.0.0.1"], allowPrivate: ["127.0.0.1/32"] }));
  const child = spawn(process.execPath, [built, "--policy", join(dir, "policy.json"), "--listen", "127.0.0.1:0", "--denials", "-", ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  const denials: { reason: string; detail: string }[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line.startsWith("listening on ")) resolve(Number(line.split(":").pop()));
      else if (line.startsWith("{")) denials.push(JSON.parse(line) as { reason: string; detail: string });
    });
    child.once("exit", (code) => reject(new Error(`the proxy exited ${code}`)));
  });
  return { child, port, denials };
}

describe("the proxy under load", () => {
  it("carries 200 concurrent tunnels from one client while 50 slowloris clients are cut off, and leaves nothing open", async () => {
    const echo = await startEchoServer();
    const proxy = await startProxyProcess(["--header-timeout-ms", "1000"]);
    const pid = proxy.child.pid!;
    const baseline = { rss: rssOf(pid), files: openFilesOf(pid) };
    let peak = baseline.rss;
    const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 20);
    onTestFinished(() => clearInterval(sampler));

    // The slow clients first, so the tunnels open while they hold their connections.
    const slow = Array.from({ length: 50 }, () => slowClient(proxy.port, `CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\nX-Slow: ${"z".repeat(200)}`, 100));
    const tunnels: net.Socket[] = await Promise.all(Array.from({ length: 200 }, () => openTunnel(proxy.port, `127.0.0.1:${echo.port}`)));
    await vi.waitFor(() => expect(echo.open.size).toBe(200));
    await Promise.all(tunnels.map((socket) => echoThrough(socket, 256 * 1024)));
    const during = { rss: peak, files: openFilesOf(pid) };

    const cut = await Promise.all(slow);
    clearInterval(sampler);
    for (const answer of cut) expect(answer.text).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n[\s\S]*rule: header-timeout/);
    for (const socket of tunnels) socket.destroy();
    await vi.waitFor(() => expect(echo.open.size).toBe(0));
    // Every socket the proxy held is closed again (the listener and node's own files stay).
    await vi.waitFor(() => expect(openFilesOf(pid)).toBeLessThanOrEqual(baseline.files));
    const after = { rss: rssOf(pid), files: openFilesOf(pid) };
    await vi.waitFor(() => expect(proxy.denials.filter((d) => d.reason === "header-timeout")).toHaveLength(50));

    const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
    process.stdout.write(
      `egress proxy RSS: ${mib(baseline.rss)} idle, ${mib(during.rss)} peak with 200 tunnels (256 KiB echoed each) and 50 slow clients, ` +
        `${mib(after.rss)} after; open files ${baseline.files} → ${during.files} → ${after.files}\n`,
    );
    expect(during.files).toBeGreaterThanOrEqual(baseline.files + 400); // both ends of 200 tunnels were really open at once
    expect(during.rss).toBeLessThan(200 * MiB); // "bounded": well inside the sidecar's 256 MiB
    await echo.close();
  });

  it("refuses a client's connection over max-connections-per-client with a 429 naming the rule, and admits it again once one closes", async () => {
    const echo = await startEchoServer();
    const proxy = await startProxyProcess(["--max-connections-per-client", "20"]);
    const held = await Promise.all(Array.from({ length: 20 }, () => openTunnel(proxy.port, `127.0.0.1:${echo.port}`)));
    const refused = await openTunnel(proxy.port, `127.0.0.1:${echo.port}`).then(
      () => "",
      (err: { answer: string }) => err.answer,
    );
    expect(refused).toMatch(/^HTTP\/1\.1 429 Too Many Requests\r\n/);
    expect(refused).toContain("has 20 connections open to this proxy, its limit (rule: max-connections-per-client)");
    expect(echo.open.size).toBe(20);
    held.pop()!.destroy();
    // The count follows closes: the slot is free again (nothing leaked in the counter); a try before the close is seen is refused too.
    const again = await vi.waitFor(() => openTunnel(proxy.port, `127.0.0.1:${echo.port}`));
    await echoThrough(again, 1024);
    for (const socket of [...held, again]) socket.destroy();
    await vi.waitFor(() => expect(echo.open.size).toBe(0));
    expect(proxy.denials.length).toBeGreaterThanOrEqual(1);
    for (const denial of proxy.denials) expect(denial).toMatchObject({ reason: "too-many-connections", host: "", port: null });
    await echo.close();
  });
});

describe("limits on the command line", () => {
  it("exits 2 on a limit that is not a positive whole number, naming the option", async () => {
    for (const [option, value] of [["--max-header-bytes", "0"], ["--header-timeout-ms", "10s"], ["--max-connections-per-client", "-5"], ["--tunnel-idle-ms", "1e3"]]) {
      const child = spawn(process.execPath, [built, "--policy", "/nonexistent", `${option}=${value}`], { stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      const [code] = (await once(child, "exit")) as [number];
      expect(code).toBe(2);
      expect(stderr).toContain(`${option} takes a positive whole number, not "${value}"`);
    }
  });
});

describe("idle tunnels", () => {
  it("closes a tunnel silent both ways for tunnelIdleMs, and keeps one that carries bytes", async () => {
    const echo = await startEchoServer();
    const proxy = await startProxy({ mode: "allow", allow: ["127.0.0.1"], allowPrivate: ["127.0.0.1/32"] }, {}, { limits: { tunnelIdleMs: 300 } });
    const silent = await openTunnel(proxy.port, `127.0.0.1:${echo.port}`);
    const busy = await openTunnel(proxy.port, `127.0.0.1:${echo.port}`);
    busy.on("data", () => {});
    const started = performance.now();
    const ticking = setInterval(() => busy.write("."), 50);
    await once(silent, "close");
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    // The busy one outlived the silent one by well over its idle time.
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(busy.destroyed).toBe(false);
    clearInterval(ticking);
    await once(busy, "close");
    await vi.waitFor(() => expect(echo.open.size).toBe(0));
    await echo.close();
  });
});
