import { spawnSync } from "node:child_process";
import { mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { networkInterfaces, tmpdir } from "node:os";
import { setTimeout as delay } from "node:timers/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { ErrorCodes } from "@claude-bottle/core";
import { buildTestRegistryImage, busyboxContext } from "@claude-bottle/test-support";
import type Dockerode from "dockerode";
import { afterAll, describe, expect, it } from "vitest";
import { DockerErrorCodes } from "../src/index.js";
import { buildImage, connectDocker, hashBuildContext, imageId, inspectImage, isDockerDesktop, pullImage, pushImage, readBuildContext, removeTag, tagImage } from "@claude-bottle/docker-engine";
import { createTestContext, deadSocket, once, rejectionOf, uniqueSuffix, useTestEngine } from "./support/engine.js";

let docker: Dockerode;
useTestEngine((found) => (docker = found));
const suffix = uniqueSuffix();
const repo = `claude-bottle-test/helpers-${suffix}`;

afterAll(async () => {
  if (!docker) return;
  const images = await docker.listImages({ filters: { reference: [`${repo}*`] } });
  for (const image of images) await docker.getImage(image.Id).remove({ force: true }).catch(() => {});
});

/** Runs `sh -c script` in `image` and returns its output. */
async function runIn(image: string, script: string): Promise<string> {
  const container = await docker.createContainer({ Image: image, Cmd: ["sh", "-c", script], HostConfig: { NetworkMode: "none" } });
  try {
    await container.start();
    await container.wait();
    const logs = await container.logs({ stdout: true, stderr: true });
    // Strip the 8-byte frame headers of the multiplexed log stream.
    let text = "";
    for (let i = 0; i + 8 <= logs.length; ) {
      const size = logs.readUInt32BE(i + 4);
      text += logs.subarray(i + 8, i + 8 + size).toString();
      i += 8 + size;
    }
    return text;
  } finally {
    await container.remove({ force: true });
  }
}

describe("connecting", () => {
  it("finds the local engine and says where", async () => {
    const { docker: found, source } = await connectDocker();
    expect(source.length).toBeGreaterThan(0);
    expect(await found.ping()).toBeTruthy();
  });

  it("tells a native engine from Docker Desktop", async () => {
    const info = (await docker.info()) as { OperatingSystem: string };
    expect(await isDockerDesktop(docker)).toBe(info.OperatingSystem === "Docker Desktop");
  });

  it("fails with DOCKER_UNAVAILABLE naming the place tried when DOCKER_HOST is a dead socket", async () => {
    const socket = await deadSocket();
    const error = await rejectionOf(connectDocker({ env: { DOCKER_HOST: `unix://${socket}` } }));
    expect(error.code).toBe(DockerErrorCodes.DOCKER_UNAVAILABLE);
    expect(error.message).toContain(socket);
    expect(error.message).toContain("connection refused");
    expect(error.hint).toContain("DOCKER_HOST");
  });

  it("loads neither dockerode nor ssh2 nor gRPC to connect and list, and ssh:// still reaches for the engine", async () => {
    // The engine package as it is published (its build), in a plain Node process that has loaded nothing yet.
    const built = createRequire(join(import.meta.dirname, "..", "package.json")).resolve("@claude-bottle/docker-engine");
    const script = `
      import { createRequire } from "node:module";
      import { connectDocker } from ${JSON.stringify(built)};
      const loaded = (pattern) => Object.keys(createRequire(import.meta.url).cache).some((path) => pattern.test(path));
      const { api } = await connectDocker();
      await api.json("GET", "/containers/json");
      const before = { dockerode: loaded(/[\\/]dockerode[\\/]/), ssh2: loaded(/[\\/]ssh2[\\/]/), grpc: loaded(/[\\/]@grpc[\\/]/) };
      const error = await connectDocker({ env: { DOCKER_HOST: "ssh://nobody@127.0.0.1:1" } }).catch((e) => e);
      console.log(JSON.stringify({ before, code: error.code, message: error.message, ssh2After: loaded(/[\\/]ssh2[\\/]/) }));
    `;
    const child = spawnSync(process.execPath, ["--no-deprecation", "--input-type=module", "-e", script], { encoding: "utf8" });
    expect(child.stderr).toBe("");
    const result = JSON.parse(child.stdout) as { before: Record<string, boolean>; code: string; message: string; ssh2After: boolean };
    expect(result.before).toEqual({ dockerode: false, ssh2: false, grpc: false });
    expect(result.code).toBe(DockerErrorCodes.DOCKER_UNAVAILABLE);
    expect(result.message).toContain("connection refused");
    expect(result.ssh2After).toBe(true);
  });

  it("says DOCKER_UNAVAILABLE, not a TypeError, for a DOCKER_HOST that is not an address", async () => {
    const error = await rejectionOf(connectDocker({ env: { DOCKER_HOST: "tcp://[not-an-address" } }));
    expect(error.code).toBe(DockerErrorCodes.DOCKER_UNAVAILABLE);
    expect(error.hint).toContain("DOCKER_HOST");
  });

  it("names every place tried when there is no engine anywhere", async () => {
    const home = mkdtempSync(join(tmpdir(), "claude-bottle-home-"));
    const error = await rejectionOf(
      connectDocker({ env: { DOCKER_HOST: `unix://${join(home, "missing.sock")}` }, home, platform: "linux" }),
    );
    expect(error.code).toBe(DockerErrorCodes.DOCKER_UNAVAILABLE);
    expect(error.message).toContain("no such socket");
  });
});

describe("buildImage", () => {
  it("builds a context into an image, returns its ID and streams steps and output", async () => {
    const context = busyboxContext(`LABEL test.suffix=${suffix}`);
    const ctx = createTestContext();
    const id = await buildImage(
      docker,
      { dockerfile: join(context, "Dockerfile"), context, tags: [`${repo}:a`, `${repo}:b`], labels: { "test.label": "yes" } },
      ctx,
    );
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await imageId(docker, `${repo}:a`)).toBe(id);
    expect(await imageId(docker, `${repo}:b`)).toBe(id);
    expect((await inspectImage(docker, id))?.Config.Labels?.["test.label"]).toBe("yes");
    const steps = ctx.events.filter((e) => e.type === "progress" && e.phase === "build");
    // The step count grows by one when a test run labels its builds (CLAUDE_BOTTLE_TEST_RUN).
    expect(steps.map((e) => (e.type === "progress" ? e.message : ""))).toContainEqual(expect.stringMatching(/^Step 1\/\d+ : FROM scratch$/));
    expect(ctx.events.some((e) => e.type === "output" && e.line.startsWith("Successfully built"))).toBe(true);
  });

  it("honours .dockerignore, including exceptions", async () => {
    const context = busyboxContext(`COPY . /ctx\nLABEL test.suffix=${suffix}-ignore`);
    writeFileSync(join(context, ".dockerignore"), "secret.txt\nlogs/\n!logs/keep.txt\n");
    writeFileSync(join(context, "secret.txt"), "do not send");
    writeFileSync(join(context, "kept.txt"), "send");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(join(context, "logs"));
    writeFileSync(join(context, "logs", "drop.txt"), "drop");
    writeFileSync(join(context, "logs", "keep.txt"), "keep");
    const id = await buildImage(docker, { dockerfile: join(context, "Dockerfile"), context }, createTestContext());
    const listing = await runIn(id, "cd /ctx && find . -type f | sort");
    expect(listing).toContain("./kept.txt");
    expect(listing).toContain("./logs/keep.txt");
    expect(listing).not.toContain("secret.txt");
    expect(listing).not.toContain("drop.txt");
    await docker.getImage(id).remove({ force: true });
  });

  it("takes a Dockerfile from outside the context, and keeps it out of COPY . .", async () => {
    const context = busyboxContext();
    const elsewhere = mkdtempSync(join(tmpdir(), "claude-bottle-dockerfile-"));
    const { readFileSync } = await import("node:fs");
    writeFileSync(
      join(elsewhere, "Agent.Dockerfile"),
      `${readFileSync(join(context, "Dockerfile"), "utf8")}\nCOPY . /ctx\nLABEL test.suffix=${suffix}-outside\n`,
    );
    const id = await buildImage(docker, { dockerfile: join(elsewhere, "Agent.Dockerfile"), context }, createTestContext());
    const listing = (await runIn(id, "ls -A /ctx")).split("\n").filter(Boolean).sort();
    // The context's own files, and not the Dockerfile that was brought in from elsewhere.
    expect(listing).toEqual(["Dockerfile", "busybox"]);
    await docker.getImage(id).remove({ force: true });
  });

  it("passes build args", async () => {
    const context = busyboxContext(`ARG GREETING\nRUN echo "$GREETING" > /greeting\nLABEL test.suffix=${suffix}-args`);
    const id = await buildImage(docker, { dockerfile: join(context, "Dockerfile"), context, args: { GREETING: "hello-arg" } }, createTestContext());
    expect(await runIn(id, "cat /greeting")).toContain("hello-arg");
    await docker.getImage(id).remove({ force: true });
  });

  it("fails with IMAGE_BUILD_FAILED and the tail of the build log", async () => {
    const context = busyboxContext(`RUN echo about-to-fail && exit 3`);
    const error = await rejectionOf(buildImage(docker, { dockerfile: join(context, "Dockerfile"), context }, createTestContext()));
    expect(error.code).toBe(ErrorCodes.IMAGE_BUILD_FAILED);
    expect(error.message).toContain("returned a non-zero code: 3");
    expect(error.message).toContain("about-to-fail");
    expect(error.message).toContain("RUN echo about-to-fail");
  });

  it("on abort destroys the request, removes the step's container and throws ABORTED", async () => {
    const context = busyboxContext(`RUN echo step-running && sleep 600\nLABEL test.suffix=${suffix}-abort`);
    const ctx = createTestContext();
    const running = new Promise<void>((resolve) => {
      ctx.emit = (event) => {
        ctx.events.push(event);
        if (event.type === "output" && event.line.trim() === "step-running") resolve();
      };
    });
    const build = buildImage(docker, { dockerfile: join(context, "Dockerfile"), context }, ctx);
    await running;
    ctx.controller.abort();
    const error = await rejectionOf(build);
    expect(error.code).toBe(ErrorCodes.ABORTED);
    const stepContainer = ctx.events
      .map((e) => (e.type === "output" ? /Running in ([0-9a-f]+)/.exec(e.line)?.[1] : undefined))
      .filter(Boolean)
      .pop();
    expect(stepContainer).toBeDefined();
    const left = await docker.listContainers({ all: true, filters: { id: [stepContainer!] } });
    expect(left).toEqual([]);
  });

  it("refuses to start when the signal has already fired", async () => {
    const context = busyboxContext();
    const ctx = createTestContext();
    ctx.controller.abort();
    expect((await rejectionOf(buildImage(docker, { dockerfile: join(context, "Dockerfile"), context }, ctx))).code).toBe(ErrorCodes.ABORTED);
  });
});

describe("content hash of a build context", () => {
  it("ignores timestamps and ignored files, and follows content, modes and args", async () => {
    const context = busyboxContext();
    writeFileSync(join(context, ".dockerignore"), "scratch/\n");
    writeFileSync(join(context, "app.txt"), "v1");
    const hash = async (args: Record<string, string> = {}) => hashBuildContext(await readBuildContext(context, join(context, "Dockerfile")), args);
    const first = await hash();
    utimesSync(join(context, "app.txt"), new Date(2001, 1, 1), new Date(2001, 1, 1));
    expect(await hash()).toBe(first);
    const { mkdirSync, chmodSync } = await import("node:fs");
    mkdirSync(join(context, "scratch"));
    writeFileSync(join(context, "scratch", "noise"), String(Math.random()));
    expect(await hash()).toBe(first);
    expect(await hash({ A: "1" })).not.toBe(first);
    chmodSync(join(context, "app.txt"), 0o755);
    const executable = await hash();
    expect(executable).not.toBe(first);
    writeFileSync(join(context, "app.txt"), "v2");
    expect(await hash()).not.toBe(executable);
  });
});

describe("tags", () => {
  let id: string;
  // In the first test rather than a hook, so that without an engine each test fails instead of being skipped.
  const built = once(async () => {
    const context = busyboxContext(`LABEL test.suffix=${suffix}-tags`);
    id = await buildImage(docker, { dockerfile: join(context, "Dockerfile"), context, tags: [`${repo}:base`] }, createTestContext());
  });

  it("tags an image by ID and by name, and untags without removing the image", async () => {
    await built();
    await tagImage(docker, id, `${repo}:by-id`);
    await tagImage(docker, `${repo}:base`, `localhost:5999/${repo.replace("claude-bottle-test/", "")}:by-name`);
    expect(await imageId(docker, `${repo}:by-id`)).toBe(id);
    expect(await imageId(docker, `localhost:5999/${repo.replace("claude-bottle-test/", "")}:by-name`)).toBe(id);

    await removeTag(docker, `${repo}:by-id`);
    expect(await imageId(docker, `${repo}:by-id`)).toBeUndefined();
    expect(await imageId(docker, `${repo}:base`)).toBe(id);
    await removeTag(docker, `localhost:5999/${repo.replace("claude-bottle-test/", "")}:by-name`);
    expect(await imageId(docker, id)).toBe(id);
  });

  it("untagging a name that does not exist is fine", async () => {
    await removeTag(docker, `${repo}:never-was`);
  });

  it("refuses to tag an image that does not exist with IMAGE_NOT_FOUND", async () => {
    expect((await rejectionOf(tagImage(docker, `${repo}:missing`, `${repo}:other`))).code).toBe(ErrorCodes.IMAGE_NOT_FOUND);
  });

  it("inspects an image, and says undefined for one that does not exist", async () => {
    await built();
    expect((await inspectImage(docker, `${repo}:base`))?.Id).toBe(id);
    expect(await inspectImage(docker, `${repo}:missing`)).toBeUndefined();
    expect(await imageId(docker, `${repo}:missing`)).toBeUndefined();
  });
});

describe("pushImage", () => {
  let id: string;
  let server: Server | undefined;
  const built = once(async () => {
    const context = busyboxContext(`LABEL test.suffix=${suffix}-push`);
    // Named, so that removing the registry names below leaves the image in place.
    id = await buildImage(docker, { dockerfile: join(context, "Dockerfile"), context, tags: [`${repo}:push`] }, createTestContext());
  });
  afterAll(() => server?.close());

  it("says REGISTRY_UNREACHABLE, with a hint, when nothing listens at the registry address", async () => {
    await built();
    const ref = `localhost:1/${repo.replace("claude-bottle-test/", "")}:push`;
    await tagImage(docker, id, ref);
    const error = await rejectionOf(pushImage(docker, ref, createTestContext()));
    expect(error.code).toBe(ErrorCodes.REGISTRY_UNREACHABLE);
    expect(error.hint).toBeTruthy();
    await removeTag(docker, ref);
  });

  it("says REGISTRY_INSECURE, naming insecure-registries, when a plain-HTTP registry is not trusted", async () => {
    await built();
    // Loopback registries are trusted over HTTP; a host address is not, so the engine tries HTTPS first.
    const address = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === "IPv4" && !i.internal)?.address;
    expect(address, "the test needs a non-loopback IPv4 address on this machine").toBeDefined();
    server = createServer((_, response) => response.writeHead(404).end());
    await new Promise<void>((resolve) => server!.listen(0, address, resolve));
    const port = (server.address() as { port: number }).port;
    const ref = `${address}:${port}/${repo.replace("claude-bottle-test/", "")}:insecure`;
    await tagImage(docker, id, ref);
    const error = await rejectionOf(pushImage(docker, ref, createTestContext()));
    expect(error.code).toBe(ErrorCodes.REGISTRY_INSECURE);
    expect(error.hint).toContain(`"${address}:${port}"`);
    await removeTag(docker, ref);
  });

  it("says IMAGE_NOT_FOUND when there is no image by that name to push", async () => {
    expect((await rejectionOf(pushImage(docker, `localhost:1/nothing-${suffix}:x`, createTestContext()))).code).toBe(
      ErrorCodes.IMAGE_NOT_FOUND,
    );
  });
});

describe("a round trip through a registry", () => {
  let registry: Dockerode.Container | undefined;
  afterAll(async () => {
    await registry?.remove({ force: true });
  });

  it("pushes with byte progress, and pulls it back with progress", async () => {
    registry = await docker.createContainer({
      Image: buildTestRegistryImage(),
      Labels: { "dev.claude-bottle.test": suffix },
      HostConfig: { PortBindings: { "5000/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] } },
    });
    await registry.start();
    const port = (await registry.inspect()).NetworkSettings.Ports["5000/tcp"]![0]!.HostPort;
    const context = busyboxContext(`RUN echo a-layer-of-its-own > /layer\nLABEL test.suffix=${suffix}-roundtrip`);
    const id = await buildImage(docker, { dockerfile: join(context, "Dockerfile"), context, tags: [`${repo}:roundtrip`] }, createTestContext());
    const ref = `localhost:${port}/roundtrip:${suffix}`;
    await tagImage(docker, id, ref);

    // The registry needs a moment to listen; a refused push is retried until it does.
    const pushed = createTestContext();
    for (;;) {
      const error = await pushImage(docker, ref, pushed).then(() => undefined, (e: Error & { code?: string }) => e);
      if (!error) break;
      if (error.code !== ErrorCodes.REGISTRY_UNREACHABLE) throw error;
      await delay(100);
    }
    const pushProgress = pushed.events.filter((e) => e.type === "progress" && e.phase === "push");
    expect(pushProgress.length).toBeGreaterThan(0);
    const last = pushProgress.at(-1)!;
    expect(last.type === "progress" && last.total !== undefined && last.current === last.total).toBe(true);

    await removeTag(docker, ref);
    expect(await imageId(docker, ref)).toBeUndefined();
    const pulled = createTestContext();
    await pullImage(docker, ref, pulled);
    expect(await imageId(docker, ref)).toBe(id);
    expect(pulled.events.some((e) => e.phase === "pull")).toBe(true);
    await removeTag(docker, ref);
  });
});

describe("pullImage", () => {
  it("says REGISTRY_UNREACHABLE when the registry cannot be reached", async () => {
    const error = await rejectionOf(pullImage(docker, `localhost:1/nothing-${suffix}:x`, createTestContext()));
    expect(error.code).toBe(ErrorCodes.REGISTRY_UNREACHABLE);
  });

  it("refuses to start when the signal has already fired", async () => {
    const ctx = createTestContext();
    ctx.controller.abort();
    expect((await rejectionOf(pullImage(docker, `localhost:1/nothing-${suffix}:x`, ctx))).code).toBe(ErrorCodes.ABORTED);
  });
});
