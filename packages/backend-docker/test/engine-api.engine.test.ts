import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingHttpHeaders } from "node:http";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { captureStdio, testSpec } from "@claude-bottle/core/testing";
import { busyboxAgent } from "@claude-bottle/test-support";
import Dockerode from "dockerode";
import { afterAll, describe, expect, it } from "vitest";
import { demultiplex } from "@claude-bottle/docker-engine";
import { engineMessage, statusCodeOf } from "@claude-bottle/docker-engine";
import { createDockerBackend } from "../src/index.js";
import { EngineApi, EngineError, connectDocker } from "@claude-bottle/docker-engine";
import { bundleForChildProcess } from "./support/bundle.js";
import { createTestContext, uniqueSuffix, useTestEngine } from "./support/engine.js";

let docker: Dockerode;
useTestEngine((found) => (docker = found));
const slug = `engine-api-${uniqueSuffix()}`;

afterAll(async () => {
  if (!docker) return;
  const images = await docker.listImages({ filters: { reference: [`claude-bottle/${slug}*`] } });
  for (const image of images) await docker.getImage(image.Id).remove({ force: true }).catch(() => {});
  const { Volumes } = await docker.listVolumes({ filters: { label: [`dev.claude-bottle.agent=${slug}`] } });
  for (const volume of Volumes ?? []) await docker.getVolume(volume.Name).remove().catch(() => {});
});

/** One multiplexed frame: stream type, three zero bytes, payload size, payload. */
function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe("demultiplex", () => {
  it("keeps stdout and stderr apart however the frames are cut", async () => {
    const wire = Buffer.concat([frame(1, "out one\n"), frame(2, "err one\n"), frame(1, ""), frame(1, "out two\n")]);
    for (let cut = 1; cut < wire.length; cut++) {
      const source = new PassThrough();
      const io = captureStdio();
      demultiplex(source, io.stdio.stdout, io.stdio.stderr);
      // Every chunk boundary from 1 byte up, so headers and payloads are split everywhere.
      for (let at = 0; at < wire.length; at += cut) source.write(wire.subarray(at, at + cut));
      await new Promise(setImmediate);
      expect(io.stdout()).toBe("out one\nout two\n");
      expect(io.stderr()).toBe("err one\n");
    }
  });
});

describe("EngineApi", () => {
  it("talks to the engine the connection found, and errors carry the engine's status and message", async () => {
    const { api } = await connectDocker();
    const version = await api.json<{ ApiVersion: string }>("GET", "/version");
    expect(version.ApiVersion).toMatch(/^\d+\.\d+$/);

    const error = await api.json("GET", "/images/claude-bottle-test/no-such-image:0/json").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect(statusCodeOf(error)).toBe(404);
    expect(engineMessage(error)).toMatch(/no such image/i);
  });

  it("refuses to hijack a container that does not exist, with the engine's 404", async () => {
    const { api } = await connectDocker();
    const error = await api.hijack("/containers/claude-bottle-test-no-such-container/attach", { query: { stream: true } }).catch((e: unknown) => e);
    expect(statusCodeOf(error)).toBe(404);
    expect(engineMessage(error)).toMatch(/no such container/i);
  });

  it("reaches an engine over TLS with the CA, and refuses one whose certificate the CA did not sign", async () => {
    const tls = join(import.meta.dirname, "fixtures", "tls");
    const cert = readFileSync(join(tls, "cert.pem"), "utf8");
    // A stand-in for a TLS engine: the one path a local engine on a socket never takes.
    const server = createServer({ cert, key: readFileSync(join(tls, "key.pem")) }, (req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ path: req.url }));
    });
    await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
    try {
      const { port } = server.address() as AddressInfo;
      const api = new EngineApi({ protocol: "https", host: "127.0.0.1", port, ca: cert });
      expect(await api.json("GET", "/containers/json", { query: { all: true } })).toEqual({ path: "/containers/json?all=true" });
      const untrusted = new EngineApi({ protocol: "https", host: "127.0.0.1", port });
      await expect(untrusted.json("GET", "/_ping")).rejects.toThrow(/self[- ]signed/i);
    } finally {
      server.close();
    }
  });

  it("reaches the engine of a Dockerode made without options, as dockerode finds it", async () => {
    // docker-modem keeps the default socket as a function it resolves at the first request.
    const api = EngineApi.for(new Dockerode());
    const version = await api.json<{ ApiVersion: string }>("GET", "/version");
    expect(version.ApiVersion).toMatch(/^\d+\.\d+$/);
  });

  it("reads a Dockerode's host written as a URL, its pinned API version and its headers", async () => {
    const seen: { url?: string; headers?: IncomingHttpHeaders }[] = [];
    const server = createHttpServer((req, res) => {
      seen.push({ url: req.url, headers: req.headers });
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end("[]");
    });
    await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
    try {
      const { port } = server.address() as AddressInfo;
      const docker = new Dockerode({ host: "http://127.0.0.1", port, version: "v1.41", headers: { "X-Test": "yes" } });
      expect(await EngineApi.for(docker).json("GET", "/containers/json", { query: { all: true } })).toEqual([]);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.url).toBe("/v1.41/containers/json?all=true");
      expect(seen[0]!.headers?.["x-test"]).toBe("yes");
    } finally {
      server.close();
    }
  });

  it("is built once per dockerode instance given to it", () => {
    expect(EngineApi.for(docker)).toBe(EngineApi.for(docker));
  });
});

describe("the warm path", () => {
  it("starts a bottle from an image already built without loading dockerode", async () => {
    const agent = busyboxAgent({ slug, command: ["sh", "-c", "echo warm; exit 4"], workspace: join(import.meta.dirname, "..") });
    // Cold, in this process: the build needs dockerode.
    const ctx = createTestContext();
    const backend = createDockerBackend();
    const io = captureStdio();
    await backend.launch(await backend.prepare(testSpec(agent), ctx), { extraArgs: [], detach: false, stdio: io.stdio }, ctx);
    expect(io.stdout()).toBe("warm\n");

    // Warm, in a fresh process: prepare, launch and list, then which modules were loaded.
    const bundle = await bundleForChildProcess("warm-path");
    const script = `
      import { createRequire } from "node:module";
      import { createDockerBackend } from ${JSON.stringify(bundle)};
      const ctx = { emit() {}, signal: new AbortController().signal, cacheDir: "/tmp", env: process.env, cwd: process.cwd(),
        logger: { debug() {}, info() {}, warn() {}, error() {} } };
      const backend = createDockerBackend();
      const prepared = await backend.prepare(${JSON.stringify(testSpec(agent))}, ctx);
      const launched = await backend.launch(prepared, { extraArgs: [], detach: false, stdio: process }, ctx);
      await backend.list(ctx);
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((path) => /[\\\\/](dockerode|docker-modem)[\\\\/]/.test(path));
      console.error(JSON.stringify({ exitCode: launched.exitCode, loaded }));
    `;
    const child = spawnSync(process.execPath, ["--no-deprecation", "--input-type=module", "-e", script], { encoding: "utf8", input: "" });
    expect(child.stdout).toBe("warm\n");
    expect(JSON.parse(child.stderr)).toEqual({ exitCode: 4, loaded: [] });
  });
});
