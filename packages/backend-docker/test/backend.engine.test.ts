import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { chmodSync, existsSync, mkdtempSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { ErrorCodes, Labels, testRunLabels, type Backend, type ResolvedAgent, type Stdio } from "@claude-bottle/core";
import { captureStdio, testSpec } from "@claude-bottle/core/testing";
import { buildTestNodeImage, busyboxAgent, busyboxContext } from "@claude-bottle/test-support";
import type Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDockerBackend, DockerErrorCodes, homeVolumeName, type DockerBackendOptions } from "../src/index.js";
import { imageId } from "@claude-bottle/docker-engine";
import { createTestContext, deadSocket, rejectionOf, uniqueSuffix, useTestEngine } from "./support/engine.js";

const suffix = uniqueSuffix();
const slug = `backend-test-${suffix}`;
let docker: Dockerode;
let context: string;
const backends: Backend[] = [];
const detachedNames = new Set<string>();

function backend(options: DockerBackendOptions = {}): Backend {
  const created = createDockerBackend(options);
  backends.push(created);
  return created;
}

function workspace(): string {
  return mkdtempSync(join(tmpdir(), "claude-bottle-ws-"));
}

function agent(patch: Partial<ResolvedAgent> = {}): ResolvedAgent {
  return busyboxAgent({ slug, workspace: workspace(), ...patch }, context);
}

/** prepare + an attached launch with captured stdio. */
async function run(target: Backend, theAgent: ResolvedAgent, ctx = createTestContext(), input = "") {
  const io = captureStdio(input);
  const launched = await target.launch(await target.prepare(testSpec(theAgent), ctx), { extraArgs: [], detach: false, stdio: io.stdio }, ctx);
  if (launched.detached) throw new Error("an attached launch came back detached");
  return { exitCode: launched.exitCode, stdout: io.stdout(), stderr: io.stderr(), ctx };
}

useTestEngine((found) => (docker = found));
/** The project whose home the home tests share (homes are per project). */
const homeProject = workspace();
chmodSync(homeProject, 0o777);
beforeAll(() => {
  context = busyboxContext(`LABEL test.suffix=${suffix}`);
});

afterAll(async () => {
  if (!docker) return;
  for (const name of detachedNames) await docker.getContainer(name).remove({ force: true }).catch(() => {});
  const images = await docker.listImages({ filters: { reference: [`claude-bottle/${slug}*`] } });
  for (const image of images) await docker.getImage(image.Id).remove({ force: true }).catch(() => {});
  // Homes are per agent and per project: every home an agent of this run made, whatever its workspace.
  const { Volumes } = await docker.listVolumes({ filters: { label: [Labels.agent] } });
  for (const volume of Volumes ?? []) {
    if (volume.Labels?.[Labels.agent]?.startsWith(slug)) await docker.getVolume(volume.Name).remove().catch(() => {});
  }
});

/** An image and the images of its build steps (the classic builder's parents), newest first. */
async function stepsOf(id: string): Promise<string[]> {
  const steps: string[] = [];
  for (let current: string | undefined = id; current; ) {
    const info: Dockerode.ImageInspectInfo = await docker.getImage(current).inspect();
    steps.push(info.Id);
    current = info.Parent || undefined;
  }
  return steps;
}

describe("the image", () => {
  it("builds on the first launch and reuses the image, without a build, when nothing changed", async () => {
    const target = backend();
    const first = await run(target, agent({ command: ["sh", "-c", "exit 0"] }));
    expect(first.ctx.events.some((e) => e.type === "phase-start" && e.phase === "build")).toBe(true);
    const tag = (await docker.listImages({ filters: { reference: [`claude-bottle/${slug}`] } }))[0]?.RepoTags?.[0];
    expect(tag).toMatch(new RegExp(`^claude-bottle/${slug}:[0-9a-f]{16}$`));
    const before = await docker.getImage(tag!).inspect();

    // A fresh backend, as a second `start` would be; only the context's content counts.
    const second = await run(backend(), agent({ command: ["sh", "-c", "exit 0"] }));
    expect(second.ctx.events.some((e) => e.type === "phase-start" && e.phase === "build")).toBe(false);
    expect(second.ctx.events.some((e) => e.type === "phase-start" && e.phase === "cache-check")).toBe(true);
    const after = await docker.getImage(tag!).inspect();
    expect(after.Id).toBe(before.Id);
    expect(after.Created).toBe(before.Created);
    expect(after.Config.Labels?.[Labels.agent]).toBe(slug);
  });

  it("rebuilds when the build context changes, and drops the old tag", async () => {
    // The changed file is a build step of its own, so the first build has steps that are its alone.
    const changing = busyboxContext(`LABEL test.suffix=${suffix}-changing\nCOPY new-file.txt /new-file.txt`);
    writeFileSync(join(changing, "new-file.txt"), "first");
    const theAgent = busyboxAgent({ slug: `${slug}-changing`, workspace: workspace(), command: ["sh", "-c", "exit 0"] }, changing);
    await run(backend(), theAgent);
    const [first] = await docker.listImages({ filters: { reference: [`claude-bottle/${slug}-changing`] } });
    const firstTag = first!.RepoTags![0];
    const firstSteps = await stepsOf(first!.Id);
    writeFileSync(join(changing, "new-file.txt"), "changed");
    const rebuilt = await run(backend(), theAgent);
    expect(rebuilt.ctx.events.some((e) => e.type === "phase-start" && e.phase === "build")).toBe(true);
    const tags = (await docker.listImages({ filters: { reference: [`claude-bottle/${slug}-changing`] } })).flatMap((i) => i.RepoTags ?? []);
    expect(tags).toHaveLength(1);
    expect(tags[0]).not.toBe(firstTag);
    // The first build lost its only name, and with it went the image: edits do not pile up images.
    expect(await imageId(docker, first!.Id)).toBeUndefined();
    // So did the steps that were the first build's own; those the rebuild shares with it stay, as its parents.
    const kept = new Set(await stepsOf((await docker.getImage(tags[0]!).inspect()).Id));
    for (const step of firstSteps.filter((id) => !kept.has(id))) expect(await imageId(docker, step), step).toBeUndefined();
    for (const tag of tags) await docker.getImage(tag).remove({ force: true });
  });

  it("runs an image reference as it is, and says IMAGE_NOT_FOUND for one that does not exist", async () => {
    const target = backend();
    const builtTag = (await docker.listImages({ filters: { reference: [`claude-bottle/${slug}`] } }))[0]!.RepoTags![0]!;
    const byRef = await run(target, agent({ image: { kind: "ref", ref: builtTag }, command: ["sh", "-c", "echo by-ref"] }));
    expect(byRef.stdout).toContain("by-ref");
    expect(byRef.ctx.events.some((e) => e.type === "phase-start" && (e.phase === "build" || e.phase === "pull"))).toBe(false);

    const missing = agent({ image: { kind: "ref", ref: `localhost:1/claude-bottle-missing-${suffix}:nope` }, command: ["true"] });
    const ctx = createTestContext();
    const error = await rejectionOf(target.launch(await target.prepare(testSpec(missing), ctx), { extraArgs: [], detach: false, stdio: captureStdio().stdio }, ctx));
    expect(error.code).toBe(ErrorCodes.IMAGE_NOT_FOUND);
    expect(error.message).toContain(`claude-bottle-missing-${suffix}`);
  });

  it("fails with IMAGE_BUILD_FAILED and the end of the build log, leaving no bottle", async () => {
    const broken = busyboxContext("RUN echo the-last-words && exit 7");
    const theAgent = busyboxAgent({ slug: `${slug}-broken`, workspace: workspace(), command: ["true"] }, broken);
    const ctx = createTestContext();
    const target = backend();
    const error = await rejectionOf(target.launch(await target.prepare(testSpec(theAgent), ctx), { extraArgs: [], detach: false, stdio: captureStdio().stdio }, ctx));
    expect(error.code).toBe(ErrorCodes.IMAGE_BUILD_FAILED);
    expect(error.message).toContain("the-last-words");
    expect(await docker.listContainers({ all: true, filters: { label: [`${Labels.agent}=${slug}-broken`] } })).toEqual([]);
  });

  it("leaves nothing behind when interrupted during the build", async () => {
    const slow = busyboxContext(`RUN echo build-is-running && sleep 600\nLABEL test.suffix=${suffix}-abort`);
    const theAgent = busyboxAgent({ slug: `${slug}-abort`, workspace: workspace(), command: ["true"] }, slow);
    const ctx = createTestContext();
    const building = new Promise<void>((resolve) => {
      ctx.emit = (event) => {
        ctx.events.push(event);
        if (event.type === "output" && event.line.trim() === "build-is-running") resolve();
      };
    });
    const target = backend();
    const launch = target.prepare(testSpec(theAgent), ctx).then((prepared) => target.launch(prepared, { extraArgs: [], detach: false, stdio: captureStdio().stdio }, ctx));
    await building;
    ctx.controller.abort();
    expect((await rejectionOf(launch)).code).toBe(ErrorCodes.ABORTED);
    const stepContainer = ctx.events
      .map((e) => (e.type === "output" ? /Running in ([0-9a-f]+)/.exec(e.line)?.[1] : undefined))
      .filter(Boolean)
      .pop()!;
    expect(await docker.listContainers({ all: true, filters: { id: [stepContainer] } })).toEqual([]);
    expect(await docker.listContainers({ all: true, filters: { label: [`${Labels.agent}=${slug}-abort`] } })).toEqual([]);
  });
});

describe("the bottle", () => {
  it("writes workspace files as the invoking user", async () => {
    const theAgent = agent({ command: ["sh", "-c", "echo hi > made-inside.txt; id -u; id -g"] });
    const { stdout, exitCode } = await run(backend(), theAgent);
    expect(exitCode).toBe(0);
    const stat = statSync(join(theAgent.workspace, "made-inside.txt"));
    expect([stat.uid, stat.gid]).toEqual([process.getuid!(), process.getgid!()]);
    expect(stdout.split("\n").filter(Boolean)).toEqual([String(process.getuid!()), String(process.getgid!())]);
  });

  it("writes workspace files as a non-root user, who can also write HOME", async () => {
    const theAgent = agent({ slug: `${slug}-home`, command: ["sh", "-c", "echo hi > made-inside.txt && echo home > $HOME/note && id -u"] });
    chmodSync(theAgent.workspace, 0o777);
    const { stdout, stderr, exitCode } = await run(backend({ user: { uid: 1234, gid: 1234 } }), theAgent);
    expect(stderr).toBe("");
    expect(exitCode).toBe(0);
    expect(stdout.trim()).toBe("1234");
    const stat = statSync(join(theAgent.workspace, "made-inside.txt"));
    expect([stat.uid, stat.gid]).toEqual([1234, 1234]);
  });

  it("keeps HOME in a volume per agent and project: a file written in one bottle is there in the next of that project only", async () => {
    const target = backend({ user: { uid: 1234, gid: 1234 } });
    const writer = agent({ slug: `${slug}-home`, workspace: homeProject, command: ["sh", "-c", `echo persisted-${suffix} > $HOME/persisted.txt && mkdir -p $HOME/.claude && echo '{"hooks":{"Stop":[{"hooks":[{"type":"command","command":"evil"}]}]}}' > $HOME/.claude/settings.json`] });
    expect((await run(target, writer)).exitCode).toBe(0);
    const reader = agent({ slug: `${slug}-home`, workspace: homeProject, command: ["sh", "-c", "echo $HOME; cat $HOME/persisted.txt"] });
    const { stdout } = await run(backend({ user: { uid: 1234, gid: 1234 } }), reader);
    expect(stdout).toContain("/home/agent");
    expect(stdout).toContain(`persisted-${suffix}`);
    const volume = await docker.getVolume(homeVolumeName(`${slug}-home`, homeProject)).inspect();
    expect(volume.Labels?.[Labels.agent]).toBe(`${slug}-home`);
    expect(volume.Labels?.["dev.claude-bottle.home-project"]).toBe(realpathSync(homeProject));

    // Another project's bottle of the same agent sees neither the file nor the planted hook.
    const other = agent({ slug: `${slug}-home`, command: ["sh", "-c", "ls -A $HOME; cat $HOME/persisted.txt $HOME/.claude/settings.json 2>&1"] });
    chmodSync(other.workspace, 0o777);
    const elsewhere = await run(backend({ user: { uid: 1234, gid: 1234 } }), other);
    expect(elsewhere.stdout).not.toContain(`persisted-${suffix}`);
    expect(elsewhere.stdout).not.toContain("evil");
    const homes = await target.homes!(createTestContext());
    expect(homes.filter((h) => h.agent === `${slug}-home`).map((h) => h.project)).toEqual(
      expect.arrayContaining([realpathSync(homeProject), realpathSync(other.workspace)]),
    );
  });

  it("tells once of an agent's home from before homes were per project, and asks the engine about it once", async () => {
    const infos: string[] = [];
    const logger = { debug() {}, warn() {}, info: (message: string) => infos.push(message) };
    const legacySlug = `${slug}-legacy`;
    const legacyVolume = `claude-bottle-home-${legacySlug}`;
    await docker.createVolume({ Name: legacyVolume, Labels: { [Labels.agent]: legacySlug, ...testRunLabels() } });
    try {
      const ctx = createTestContext({ logger });
      for (let i = 0; i < 2; i++) expect((await run(backend(), agent({ slug: legacySlug, command: ["true"] }), ctx)).exitCode).toBe(0);
      expect(infos.filter((m) => m.includes(legacyVolume))).toHaveLength(1);
      expect(infos[0]).toContain(`docker volume rm ${legacyVolume}`);

      // None there: the answer is kept too, so later starts do not ask.
      const fresh = createTestContext({ logger });
      expect((await run(backend(), agent({ command: ["true"] }), fresh)).exitCode).toBe(0);
      expect(existsSync(join(fresh.cacheDir, "docker", "notices", `legacy-home-${slug}`))).toBe(true);
      expect(infos).toHaveLength(1);
      await Promise.all([ctx.dispose(), fresh.dispose()]);
    } finally {
      await docker.getVolume(legacyVolume).remove().catch(() => {});
    }
  });

  it("keeps what the image put in /home/agent, and still gives HOME to the bottle's user", async () => {
    const withHome = busyboxContext(
      `RUN mkdir -p /home/agent && echo from-the-image > /home/agent/.profile && chown -R 1000:1000 /home/agent\nLABEL test.suffix=${suffix}-imagehome`,
    );
    const theAgent = busyboxAgent(
      { slug: `${slug}-imagehome`, workspace: workspace(), command: ["sh", "-c", "cat $HOME/.profile && echo mine > $HOME/mine.txt && stat -c %u $HOME"] },
      withHome,
    );
    try {
      const { stdout, stderr, exitCode } = await run(backend({ user: { uid: 1234, gid: 1234 } }), theAgent);
      expect(stderr).toBe("");
      expect(exitCode).toBe(0);
      expect(stdout.split("\n")).toEqual(["from-the-image", "1234", ""]);
    } finally {
      await docker.getVolume(homeVolumeName(`${slug}-imagehome`, theAgent.workspace)).remove().catch(() => {});
      for (const image of await docker.listImages({ filters: { reference: [`claude-bottle/${slug}-imagehome`] } })) {
        await docker.getImage(image.Id).remove({ force: true });
      }
    }
  });

  it("gives HOME to another user when the same agent runs as someone else", async () => {
    const other = agent({ slug: `${slug}-home`, workspace: homeProject, command: ["sh", "-c", "echo other > $HOME/other.txt && cat $HOME/other.txt"] });
    const { stdout, stderr, exitCode } = await run(backend({ user: { uid: 4321, gid: 4321 } }), other);
    expect(stderr).toBe("");
    expect(exitCode).toBe(0);
    expect(stdout).toContain("other");
  });

  it("passes a secret by name: visible inside, absent from labels and from every event", async () => {
    const secret = `s3cret-${suffix}`;
    const ctx = createTestContext({ env: { CB_TEST_SECRET: secret } });
    const debug: string[] = [];
    ctx.logger = { debug: (m) => debug.push(m), info: (m) => debug.push(m), warn: (m) => debug.push(m) };
    const target = backend();
    const theAgent = agent({ command: ["sh", "-c", 'echo "inside:$CB_TEST_SECRET"; sleep 300'], env: [{ name: "CB_TEST_SECRET", passthrough: true }] });
    const io = captureStdio();
    const launched = await target.launch(await target.prepare(testSpec(theAgent), ctx), { extraArgs: [], detach: true, stdio: io.stdio }, ctx);
    detachedNames.add(launched.name);
    const info = await docker.getContainer(launched.name).inspect();
    expect(JSON.stringify(info.Config.Labels)).not.toContain(secret);
    expect(info.Config.Labels[Labels.agent]).toBe(slug);
    expect(info.Config.Labels[Labels.workspace]).toBe(theAgent.workspace);
    expect(info.Config.Labels[Labels.backend]).toBe("docker");
    expect(info.Config.Labels[Labels.tool]).toBeDefined();
    expect(info.HostConfig.SecurityOpt).toEqual(["no-new-privileges"]);
    expect(info.HostConfig.CapDrop).toEqual(["ALL"]);
    expect(info.HostConfig.NetworkMode).toBe("none");
    expect(info.Mounts.some((m) => m.Source.includes("docker.sock"))).toBe(false);

    const logs = captureStdio();
    await target.logs!(launched.name, { follow: false, stdio: logs.stdio }, ctx);
    expect(logs.stdout()).toContain(`inside:${secret}`);
    expect(JSON.stringify(ctx.events)).not.toContain(secret);
    expect(debug.join("\n")).not.toContain(secret);
    await target.remove!(launched.name, { force: true }, ctx);
    detachedNames.delete(launched.name);
  });

  it("applies extra mounts, read-only when asked, and the CPU and memory limits", async () => {
    const shared = mkdtempSync(join(tmpdir(), "claude-bottle-mount-"));
    writeFileSync(join(shared, "config"), "mounted-content");
    const theAgent = agent({
      command: ["sh", "-c", "cat /mnt/shared/config; touch /mnt/shared/x 2>/dev/null && echo writable || echo read-only"],
      mounts: [{ source: shared, target: "/mnt/shared", readOnly: true }],
      resources: { cpus: 0.5, memory: 64 * 1024 * 1024 },
    });
    const ctx = createTestContext();
    const target = backend();
    const io = captureStdio();
    const launched = await target.launch(await target.prepare(testSpec(theAgent), ctx), { extraArgs: [], detach: true, stdio: io.stdio }, ctx);
    detachedNames.add(launched.name);
    const info = await docker.getContainer(launched.name).inspect();
    expect(info.HostConfig.NanoCpus).toBe(500_000_000);
    expect(info.HostConfig.Memory).toBe(64 * 1024 * 1024);
    await docker.getContainer(launched.name).wait();
    const logs = captureStdio();
    await target.logs!(launched.name, { follow: true, stdio: logs.stdio }, ctx);
    expect(logs.stdout()).toContain("mounted-content");
    expect(logs.stdout()).toContain("read-only");
    await target.remove!(launched.name, { force: false }, ctx);
    detachedNames.delete(launched.name);
  });

  it("runs with a network of its own, behind its egress proxy, when the agent asks for one", async () => {
    const ctx = createTestContext();
    // The proxy's image is the offline stand-in; its DNS stays on loopback (see egress.test.ts for real traffic).
    const target = backend({ egress: { image: buildTestNodeImage(), dns: ["127.0.0.1"] } });
    const launched = await target.launch(
      await target.prepare(testSpec(agent({ network: true, command: ["sleep", "300"] })), ctx),
      { extraArgs: [], detach: true, stdio: captureStdio().stdio },
      ctx,
    );
    detachedNames.add(launched.name);
    const info = await docker.getContainer(launched.name).inspect();
    expect(info.HostConfig.NetworkMode).toBe(`${launched.name}-net`);
    expect(info.Config.Env).toContain("NODE_USE_ENV_PROXY=1");
    expect(info.Config.Env.find((e) => e.startsWith("HTTPS_PROXY="))).toMatch(/^HTTPS_PROXY=http:\/\/[0-9.]+:3128$/);
    await target.remove!(launched.name, { force: true }, ctx);
    detachedNames.delete(launched.name);
    await expect(docker.getContainer(`${launched.name}-egress`).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it("stops and removes an attached bottle when interrupted, and throws ABORTED", async () => {
    const ctx = createTestContext();
    ctx.emit = (event) => {
      ctx.events.push(event);
      if (event.type === "phase-end" && event.phase === "start") ctx.controller.abort();
    };
    const target = backend();
    const prepared = await target.prepare(testSpec(agent({ command: ["sleep", "300"] })), ctx);
    const error = await rejectionOf(target.launch(prepared, { extraArgs: [], detach: false, stdio: captureStdio().stdio }, ctx));
    expect(error.code).toBe(ErrorCodes.ABORTED);
    expect(await docker.listContainers({ all: true, filters: { label: [`${Labels.agent}=${slug}`] } })).toEqual([]);
  });

  it("removes an attached bottle once it exits, and names it claude-bottle-<slug>-<6 hex>", async () => {
    const { ctx } = await run(backend(), agent({ command: ["true"] }));
    expect(await docker.listContainers({ all: true, filters: { label: [`${Labels.agent}=${slug}`] } })).toEqual([]);
    expect(ctx.events.filter((e) => e.type === "phase-start").map((e) => e.phase)).toEqual(["cache-check", "create", "attach", "start"]);
  });
});

describe("a terminal", () => {
  /** A stdin that says it is a terminal and records raw mode, and a stdout with a size. */
  function fakeTerminal() {
    const stdin = Object.assign(new PassThrough(), { isTTY: true, rawModes: [] as boolean[] }) as PassThrough & {
      isTTY: boolean;
      rawModes: boolean[];
      setRawMode(mode: boolean): void;
    };
    stdin.setRawMode = (mode) => void stdin.rawModes.push(mode);
    const stdout = Object.assign(new PassThrough(), { isTTY: true, columns: 100, rows: 40 });
    let output = "";
    stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const waitFor = (text: string) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (output.includes(text)) {
            stdout.off("data", check);
            resolve();
          }
        };
        stdout.on("data", check);
        check();
      });
    const stdio: Stdio = { stdin, stdout, stderr: new PassThrough() };
    return { stdin, stdout, stdio, output: () => output, waitFor };
  }

  it("runs in raw mode with a TTY that follows the terminal size; Ctrl-C reaches the agent; raw mode is undone", async () => {
    const terminal = fakeTerminal();
    const script = [
      'until [ "$(stty size)" = "40 100" ]; do sleep 0.1; done; echo sized-40x100',
      'until [ "$(stty size)" = "50 120" ]; do sleep 0.1; done; echo sized-50x120',
      "read line; echo got:$line",
      'trap "echo caught-interrupt; exit 9" INT',
      "echo waiting-for-ctrl-c; while :; do sleep 0.1; done",
    ].join("\n");
    const ctx = createTestContext();
    const target = backend();
    const launching = target.launch(await target.prepare(testSpec(agent({ command: ["sh", "-c", script] })), ctx), { extraArgs: [], detach: false, stdio: terminal.stdio }, ctx);

    await terminal.waitFor("sized-40x100");
    Object.assign(terminal.stdout, { columns: 120, rows: 50 });
    terminal.stdout.emit("resize");
    await terminal.waitFor("sized-50x120");
    terminal.stdin.write("typed-line\r");
    await terminal.waitFor("got:typed-line");
    await terminal.waitFor("waiting-for-ctrl-c");
    terminal.stdin.write("\x03");

    const launched = await launching;
    expect(launched).toMatchObject({ detached: false, exitCode: 9 });
    expect(terminal.output()).toContain("caught-interrupt");
    expect(terminal.stdin.rawModes).toEqual([true, false]);
  });

  it("undoes raw mode when the agent's program cannot run, and returns 127 as a shell would", async () => {
    const terminal = fakeTerminal();
    const ctx = createTestContext();
    const target = backend();
    const launched = await target.launch(
      await target.prepare(testSpec(agent({ command: ["/no/such/program"] })), ctx),
      { extraArgs: [], detach: false, stdio: terminal.stdio },
      ctx,
    );
    expect(launched).toMatchObject({ detached: false, exitCode: 127 });
    expect(terminal.output()).toContain("/no/such/program");
    expect(terminal.stdin.rawModes).toEqual([true, false]);
    expect(await docker.listContainers({ all: true, filters: { label: [`${Labels.agent}=${slug}`] } })).toEqual([]);
  });

  it("leaves the terminal alone and nothing behind when the bottle cannot be created", async () => {
    const terminal = fakeTerminal();
    const ctx = createTestContext();
    const target = backend();
    const theAgent = agent({ command: ["true"] });
    const prepared = await target.prepare(testSpec(theAgent), ctx);
    const { rmSync } = await import("node:fs");
    rmSync(theAgent.workspace, { recursive: true });
    const error = await rejectionOf(target.launch(prepared, { extraArgs: [], detach: false, stdio: terminal.stdio }, ctx));
    expect(error.code).toBe(ErrorCodes.WORKSPACE_NOT_FOUND);
    expect(terminal.stdin.rawModes).toEqual([]);
    expect(await docker.listContainers({ all: true, filters: { label: [`${Labels.agent}=${slug}`] } })).toEqual([]);
  });
});

describe("the lifecycle", () => {
  it("detaches, lists, shows logs, execs as the bottle's user in /workspace, attaches, stops and removes", async () => {
    const target = backend({ user: { uid: 1234, gid: 1234 } });
    const ctx = createTestContext();
    const theAgent = agent({ command: ["sh", "-c", "echo started; read reply; echo reply:$reply; exit 4"] });
    const launched = await target.launch(await target.prepare(testSpec(theAgent), ctx), { extraArgs: [], detach: true, stdio: captureStdio().stdio }, ctx);
    detachedNames.add(launched.name);
    expect(launched).toEqual({ detached: true, name: expect.stringMatching(new RegExp(`^claude-bottle-${slug}-[0-9a-f]{6}$`)) });

    const listed = (await target.list!(ctx)).find((b) => b.name === launched.name);
    expect(listed).toMatchObject({ agent: slug, backend: "docker", state: "running", workspace: theAgent.workspace });
    expect(new Date(listed!.created).toISOString()).toBe(listed!.created);

    const exec = captureStdio("piped-to-exec\n");
    const code = await target.exec!(launched.name, { command: ["sh", "-c", "pwd; id -u; cat; echo err >&2; exit 6"], stdio: exec.stdio }, ctx);
    expect(code).toBe(6);
    expect(exec.stdout().split("\n")).toEqual(["/workspace", "1234", "piped-to-exec", ""]);
    expect(exec.stderr()).toBe("err\n");

    const attached = captureStdio("hello\n");
    expect(await target.attach!(launched.name, { stdio: attached.stdio }, ctx)).toBe(4);
    expect(attached.stdout()).toContain("reply:hello");

    const logs = captureStdio();
    await target.logs!(launched.name, { follow: false, stdio: logs.stdio }, ctx);
    expect(logs.stdout()).toContain("started");
    expect(logs.stdout()).toContain("reply:hello");

    expect((await target.list!(ctx)).find((b) => b.name === launched.name)?.state).toBe("stopped");
    await target.stop!(launched.name, {}, ctx);
    await target.remove!(launched.name, { force: false }, ctx);
    detachedNames.delete(launched.name);
    expect((await target.list!(ctx)).some((b) => b.name === launched.name)).toBe(false);
  });

  it("leaves a bottle it attached to running when interrupted", async () => {
    const target = backend();
    const ctx = createTestContext();
    const launched = await target.launch(await target.prepare(testSpec(agent({ command: ["sh", "-c", "echo up; sleep 300"] })), ctx), { extraArgs: [], detach: true, stdio: captureStdio().stdio }, ctx);
    detachedNames.add(launched.name);
    const attachCtx = createTestContext();
    attachCtx.emit = (event) => {
      if (event.type === "phase-end" && event.phase === "attach") attachCtx.controller.abort();
    };
    const stdin = new PassThrough();
    const error = await rejectionOf(target.attach!(launched.name, { stdio: { stdin, stdout: new PassThrough(), stderr: new PassThrough() } }, attachCtx));
    expect(error.code).toBe(ErrorCodes.ABORTED);
    expect((await target.list!(ctx)).find((b) => b.name === launched.name)?.state).toBe("running");
    await target.remove!(launched.name, { force: true }, ctx);
    detachedNames.delete(launched.name);
  });

  it("follows the logs until interrupted, and execs in a terminal when stdin is one", async () => {
    const target = backend();
    const ctx = createTestContext();
    const launched = await target.launch(await target.prepare(testSpec(agent({ command: ["sh", "-c", "echo first-line; sleep 300"] })), ctx), { extraArgs: [], detach: true, stdio: captureStdio().stdio }, ctx);
    detachedNames.add(launched.name);

    const followCtx = createTestContext();
    const stdout = new PassThrough();
    stdout.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("first-line")) followCtx.controller.abort();
    });
    await target.logs!(launched.name, { follow: true, stdio: { stdout, stderr: new PassThrough() } }, followCtx);
    expect(followCtx.signal.aborted).toBe(true);

    const terminalIn = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => {} });
    terminalIn.end();
    const terminalOut = Object.assign(new PassThrough(), { isTTY: true, columns: 80, rows: 24 });
    let output = "";
    terminalOut.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const code = await target.exec!(launched.name, { command: ["sh", "-c", "tty; exit 3"], stdio: { stdin: terminalIn, stdout: terminalOut, stderr: new PassThrough() } }, ctx);
    expect(code).toBe(3);
    expect(output).toMatch(/\/dev\/pts\/\d+/);

    await target.remove!(launched.name, { force: true }, ctx);
    detachedNames.delete(launched.name);
  });

  it("stops a running bottle and refuses to remove a running one without force", async () => {
    const target = backend();
    const ctx = createTestContext();
    const launched = await target.launch(await target.prepare(testSpec(agent({ command: ["sleep", "300"] })), ctx), { extraArgs: [], detach: true, stdio: captureStdio().stdio }, ctx);
    detachedNames.add(launched.name);
    expect((await rejectionOf(target.remove!(launched.name, { force: false }, ctx))).code).toBe(ErrorCodes.BOTTLE_RUNNING);
    // Paused, the engine says Running but refuses attach and exec: the backend says so first.
    await docker.getContainer(launched.name).pause();
    for (const refused of [
      rejectionOf(target.attach!(launched.name, { stdio: captureStdio().stdio }, ctx)),
      rejectionOf(target.exec!(launched.name, { command: ["true"], stdio: captureStdio().stdio }, ctx)),
    ]) {
      const error = await refused;
      expect(error.code).toBe(ErrorCodes.BOTTLE_NOT_RUNNING);
      expect(error.message).toContain("paused");
      expect(error.hint).toContain("docker unpause");
    }
    await docker.getContainer(launched.name).unpause();
    await target.stop!(launched.name, {}, ctx);
    expect((await target.list!(ctx)).find((b) => b.name === launched.name)?.state).toBe("stopped");
    expect((await rejectionOf(target.exec!(launched.name, { command: ["true"], stdio: captureStdio().stdio }, ctx))).code).toBe(
      ErrorCodes.BOTTLE_NOT_RUNNING,
    );
    await target.remove!(launched.name, { force: false }, ctx);
    detachedNames.delete(launched.name);
  });

  it("says BOTTLE_NOT_FOUND for a name it does not know, and for containers that are not its bottles", async () => {
    const target = backend();
    const ctx = createTestContext();
    const stranger = await docker.createContainer({ name: `not-a-bottle-${suffix}`, Image: (await docker.listImages({ filters: { reference: [`claude-bottle/${slug}`] } }))[0]!.Id, Cmd: ["true"] });
    try {
      for (const name of [`claude-bottle-nothing-${suffix}`, `not-a-bottle-${suffix}`]) {
        expect((await rejectionOf(target.stop!(name, {}, ctx))).code).toBe(ErrorCodes.BOTTLE_NOT_FOUND);
        expect((await rejectionOf(target.remove!(name, { force: true }, ctx))).code).toBe(ErrorCodes.BOTTLE_NOT_FOUND);
        expect((await rejectionOf(target.logs!(name, { follow: false, stdio: captureStdio().stdio }, ctx))).code).toBe(ErrorCodes.BOTTLE_NOT_FOUND);
        expect((await rejectionOf(target.exec!(name, { command: ["true"], stdio: captureStdio().stdio }, ctx))).code).toBe(ErrorCodes.BOTTLE_NOT_FOUND);
        expect((await rejectionOf(target.attach!(name, { stdio: captureStdio().stdio }, ctx))).code).toBe(ErrorCodes.BOTTLE_NOT_FOUND);
      }
      expect((await target.list!(ctx)).some((b) => b.name === `not-a-bottle-${suffix}`)).toBe(false);
    } finally {
      await stranger.remove({ force: true });
    }
  });

  it("says DOCKER_CREATE_FAILED with the engine's words when the engine refuses the bottle, and leaves nothing", async () => {
    const target = backend();
    const ctx = createTestContext();
    // The engine's floor for a memory limit is 6 MB: 1 MB is refused at create.
    const tooSmall = agent({ command: ["true"], resources: { memory: 1024 * 1024 } });
    const error = await rejectionOf(target.launch(await target.prepare(testSpec(tooSmall, { name: `claude-bottle-${slug}-b0771e` }), ctx), { extraArgs: [], detach: false, stdio: captureStdio().stdio }, ctx));
    expect(error.code).toBe("DOCKER_CREATE_FAILED");
    expect(error.message).toMatch(/memory/i);
    expect(error.hint).toContain("resources");
    expect(await docker.listContainers({ all: true, filters: { name: [`claude-bottle-${slug}-b0771e`] } })).toEqual([]);
  });

  it("says NAME_CONFLICT when the bottle's name is taken", async () => {
    const target = backend();
    const ctx = createTestContext();
    const prepared = await target.prepare(testSpec(agent({ command: ["sleep", "300"] }), { name: `claude-bottle-${slug}-c0ffee` }), ctx);
    const first = await target.launch(prepared, { extraArgs: [], detach: true, stdio: captureStdio().stdio }, ctx);
    detachedNames.add(first.name);
    expect(first.name).toBe(`claude-bottle-${slug}-c0ffee`);
    const error = await rejectionOf(target.launch(prepared, { extraArgs: [], detach: true, stdio: captureStdio().stdio }, ctx));
    expect(error.code).toBe(ErrorCodes.NAME_CONFLICT);
    expect(error.message).toContain(first.name);
    await target.remove!(first.name, { force: true }, ctx);
    detachedNames.delete(first.name);
  });

  it("doctor reports the engine, its API version, its kind, gVisor and the socket permissions", async () => {
    const checks = await backend().doctor!(createTestContext());
    expect(checks.map((c) => c.name)).toEqual(["engine reachable", "engine version", "engine kind", "gVisor (isolation: gvisor)", "socket permissions"]);
    expect(checks.every((c) => c.ok)).toBe(true);
    expect(checks[1]!.detail).toMatch(/API \d+\.\d+/);
  });
});

describe("errors a user meets", () => {
  it("no engine: DOCKER_UNAVAILABLE from prepare, and a failed doctor check instead of a throw", async () => {
    const socket = await deadSocket();
    const ctx = createTestContext({ env: { DOCKER_HOST: `unix://${socket}` } });
    const error = await rejectionOf(backend().prepare(testSpec(agent({ command: ["true"] })), ctx));
    expect(error.code).toBe(DockerErrorCodes.DOCKER_UNAVAILABLE);
    expect(error.message).toContain(socket);
    const checks = await backend().doctor!(ctx);
    expect(checks[0]).toMatchObject({ name: "engine reachable", ok: false });
  });

  it("a workspace that does not exist: WORKSPACE_NOT_FOUND", async () => {
    const error = await rejectionOf(backend().prepare(testSpec(agent({ workspace: join(tmpdir(), `missing-${suffix}`) })), createTestContext()));
    expect(error.code).toBe(ErrorCodes.WORKSPACE_NOT_FOUND);
  });

  it("a mount source that does not exist: MOUNT_NOT_FOUND", async () => {
    const error = await rejectionOf(
      backend().prepare(testSpec(agent({ mounts: [{ source: join(tmpdir(), `missing-${suffix}`), target: "/x", readOnly: true }] })), createTestContext()),
    );
    expect(error.code).toBe(ErrorCodes.MOUNT_NOT_FOUND);
  });

  it("a Dockerfile that does not exist: AGENT_INVALID", async () => {
    const theAgent = agent();
    const error = await rejectionOf(
      backend().prepare(testSpec({ ...theAgent, image: { kind: "build", dockerfile: join(context, "Missing.Dockerfile"), context, args: {} } }), createTestContext()),
    );
    expect(error.code).toBe(ErrorCodes.AGENT_INVALID);
  });

  it("permission denied on the socket: DOCKER_PERMISSION_DENIED with the docker group hint", async () => {
    // Root opens any socket, so the attempt runs in a child process as an unprivileged user.
    // The engine package as it is published (its build), which finds the engine for this backend.
    const built = createRequire(join(import.meta.dirname, "..", "package.json")).resolve("@claude-bottle/docker-engine");
    const script = `
      import { connectDocker } from ${JSON.stringify(built)};
      try { await connectDocker({ env: {} }); console.log(JSON.stringify({ connected: true })); }
      catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, hint: e.hint })); }
    `;
    const socketGid = statSync("/var/run/docker.sock").gid;
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      uid: 1234,
      gid: socketGid === 1234 ? 1235 : 1234,
      env: { PATH: process.env.PATH, HOME: tmpdir() },
      encoding: "utf8",
    });
    expect(child.stderr).toBe("");
    const result = JSON.parse(child.stdout) as { code: string; message: string; hint: string };
    expect(result.code).toBe(DockerErrorCodes.DOCKER_PERMISSION_DENIED);
    expect(result.message).toContain("/var/run/docker.sock");
    expect(result.hint).toContain("docker group");
  });
});
