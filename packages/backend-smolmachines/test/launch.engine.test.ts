import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { SmolmachinesErrorCodes } from "../src/index.js";
import { PassThrough } from "node:stream";
import { execa } from "execa";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BottleError, ErrorCodes, Labels, defaultMemoryLimit, type ResolvedAgent } from "@claude-bottle/core";
import { captureStdio, createTestContext, testSpec } from "@claude-bottle/core/testing";
import { busyboxAgent, buildTestRegistryImage } from "@claude-bottle/test-support";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createSmolmachinesBackend } from "../src/backend.js";
import { bottleCommand, machineCreateArguments, machineRunArguments, PASSTHROUGH_LABEL, resourceArguments } from "../src/launch.js";
import type { SmolmachinesPrepared } from "../src/pipeline/prepare.js";
import { engine, fakeSmolvm, invocationRecords, invocations, NEWER_DOUBLE, SMOLVM_DOUBLE, useDoubleState, testSlug } from "./support.js";

const SECRET = "sk-test-0123456789-do-not-log";
let state: string;
let cacheDir: string;
let workspace: string;
let backend: ReturnType<typeof createSmolmachinesBackend>;

function agent(patch: Partial<ResolvedAgent> = {}): ResolvedAgent {
  return busyboxAgent({ slug: testSlug("smol-launch-test"), workspace, ...patch });
}

const context = () => createTestContext({ cacheDir, env: { CB_SECRET: SECRET } });

async function prepare(patch: Partial<ResolvedAgent> = {}) {
  return (await backend.prepare(testSpec(agent(patch)), context())) as SmolmachinesPrepared;
}

beforeAll(async () => {
  await engine();
  state = useDoubleState();
  cacheDir = mkdtempSync(join(tmpdir(), "smol-launch-cache-"));
  workspace = mkdtempSync(join(tmpdir(), "smol-launch-workspace-"));
  backend = createSmolmachinesBackend({ smolvm: SMOLVM_DOUBLE, registryImage: buildTestRegistryImage(), dockerDesktop: false });
});

afterAll(async () => {
  for (const bottle of await backend.list!(context())) await backend.remove!(bottle.name, { force: true }, context());
});

describe("arguments", () => {
  const prepared = {
    spec: testSpec(busyboxAgent({
      slug: "args",
      workspace: "/ws",
      mounts: [{ source: "/data", target: "/data", readOnly: true }],
      env: [
        { name: "FOO", passthrough: false, value: "bar" },
        { name: "TOKEN", passthrough: true },
      ],
      network: true,
      resources: { cpus: 1.5, memory: 3 * 2 ** 30 },
    })),
    backend: "smolmachines",
    imageId: `sha256:${"a".repeat(64)}`,
    artifact: { key: "a".repeat(16), stub: "/c/aaaa", machine: "/c/aaaa.smolmachine" },
    imageEntrypoint: ["/entry"],
    imageCmd: ["default"],
  } satisfies SmolmachinesPrepared;

  it("runs the packed machine with the workspace, the mounts, the environment and the resources", () => {
    expect(machineRunArguments(prepared, ["-e", "FOO=bar", "-e", "TOKEN"], ["claude"], true)).toEqual([
      "machine", "run", "--from", "/c/aaaa.smolmachine",
      "--net", "--cpus", "2", "--mem", "3072",
      "-v", "/ws:/workspace", "-v", "/data:/data:ro",
      "-w", "/workspace",
      "-e", "FOO=bar", "-e", "TOKEN",
      "-i", "-t",
      "--", "claude",
    ]);
    expect(machineRunArguments(prepared, [], ["claude"], false)).not.toContain("-t");
    // Memory is bounded by default, at claude-bottle's default rather than smolvm's 8 GiB.
    expect(resourceArguments(testSpec(busyboxAgent({ network: false, resources: {} })))).toEqual(["--mem", String(defaultMemoryLimit() / 2 ** 20)]);
  });

  it("creates a detached machine with labels that name the agent, the workspace and the passthrough names only", () => {
    const args = machineCreateArguments(prepared, "claude-bottle-args-abcdef", ["-e", "FOO=bar"]);
    expect(args.slice(0, 6)).toEqual(["machine", "create", "--name", "claude-bottle-args-abcdef", "--from", "/c/aaaa.smolmachine"]);
    expect(args).toContain(`${Labels.backend}=smolmachines`);
    expect(args).toContain(`${Labels.agent}=args`);
    expect(args).toContain(`${Labels.workspace}=/ws`);
    expect(args).toContain(`${PASSTHROUGH_LABEL}=TOKEN`);
    expect(args.filter((a) => a === "-e")).toHaveLength(1);
  });

  it("runs the recipe's command with its args, or the image's entrypoint with the args in place of its command", () => {
    expect(bottleCommand({ ...prepared, spec: { ...prepared.spec, command: ["claude"], args: ["--x"] } }, ["y"])).toEqual(["claude", "--x", "y"]);
    expect(bottleCommand({ ...prepared, spec: { ...prepared.spec, command: undefined, args: [] } }, [])).toEqual(["/entry", "default"]);
    expect(bottleCommand({ ...prepared, spec: { ...prepared.spec, command: undefined, args: [] } }, ["z"])).toEqual(["/entry", "z"]);
  });
});

describe("attached launch through the double", () => {
  it("runs the command from the packed image in the workspace, with the environment, and returns its exit code", async () => {
    writeFileSync(join(workspace, "in.txt"), "from-the-host");
    const prepared = await prepare({
      command: ["sh", "-c", 'pwd; cat in.txt; echo "$CB_LITERAL/$CB_SECRET" > out.txt; exit 7'],
      env: [
        { name: "CB_LITERAL", passthrough: false, value: "literal" },
        { name: "CB_SECRET", passthrough: true },
      ],
    });
    const io = captureStdio();
    const launched = await backend.launch(prepared, { extraArgs: [], detach: false, stdio: io.stdio }, context());

    expect(launched).toMatchObject({ detached: false, exitCode: 7 });
    expect(io.stdout()).toContain("/workspace\nfrom-the-host");
    expect(readFileSync(join(workspace, "out.txt"), "utf8").trim()).toBe(`literal/${SECRET}`);
    const run = invocations(state).find((argv) => argv[0] === "machine" && argv[1] === "run" && argv.includes("--from"))!;
    expect(run).toEqual(expect.arrayContaining(["--from", prepared.artifact.machine, "-v", `${workspace}:/workspace`, "-w", "/workspace"]));
    expect(run.join(" ")).toContain("-e CB_LITERAL=literal -e CB_SECRET -i --");
  });

  it("never puts a secret value in any smolvm command line", () => {
    expect(JSON.stringify(invocations(state))).not.toContain(SECRET);
  });

  it("reports smolvm's own refusal as SMOLVM_FAILED, with the command line", async () => {
    const refusing = fakeSmolvm(`if [ "$1" = machine ]; then echo "Error: --from: not a packed machine" >&2; exit 1; fi\nexec "${SMOLVM_DOUBLE}" "$@"`);
    const other = createSmolmachinesBackend({ smolvm: refusing, registryImage: buildTestRegistryImage(), dockerDesktop: false });
    const prepared = await other.prepare(testSpec(agent({ command: ["true"] })), context());
    const error = await other.launch(prepared, { extraArgs: [], detach: false, stdio: captureStdio().stdio }, context()).catch((e: unknown) => e);
    expect(BottleError.isInstance(error) && error.code).toBe(SmolmachinesErrorCodes.SMOLVM_FAILED);
    expect((error as Error).message).toContain("Error: --from: not a packed machine");
    expect((error as Error).message).toMatch(/Command: .* machine run --from /);
  });

  it("passes a guest's exit 1 with its own stderr through as an exit code", async () => {
    const prepared = await prepare({ command: ["sh", "-c", "echo 'Error: from the guest' >&2; echo more >&2; exit 1"] });
    const io = captureStdio();
    const launched = await backend.launch(prepared, { extraArgs: [], detach: false, stdio: io.stdio }, context());
    expect(launched).toMatchObject({ exitCode: 1 });
    expect(io.stderr()).toContain("Error: from the guest");
  });

  it("refuses a file as a mount source: smolvm mounts directories only", async () => {
    const file = join(workspace, "in.txt");
    const error = await backend
      .prepare(testSpec(agent({ mounts: [{ source: file, target: "/etc/thing", readOnly: true }] })), context())
      .catch((e: unknown) => e);
    expect(BottleError.isInstance(error) && error.code).toBe(ErrorCodes.UNSUPPORTED);
  });
});

describe("detached bottles", () => {
  it("create, start, list, exec, logs, stop and remove, without a secret value in any command line", async () => {
    const prepared = await prepare({
      command: ["sh", "-c", 'echo "started with $CB_LITERAL"; echo to-stderr >&2; sleep 300'],
      env: [
        { name: "CB_LITERAL", passthrough: false, value: "literal" },
        { name: "CB_SECRET", passthrough: true },
      ],
    });
    const ctx = context();
    const launched = await backend.launch(prepared, { extraArgs: [], detach: true, stdio: captureStdio().stdio }, ctx);
    expect(launched.detached).toBe(true);

    const listed = (await backend.list!(ctx)).find((b) => b.name === launched.name);
    expect(listed).toMatchObject({ agent: testSlug("smol-launch-test"), backend: "smolmachines", state: "running", workspace });

    const io = captureStdio();
    const code = await backend.exec!(launched.name, { command: ["sh", "-c", 'pwd; echo "secret=$CB_SECRET"; exit 4'], stdio: io.stdio }, ctx);
    expect(code).toBe(4);
    expect(io.stdout()).toContain("/workspace");
    expect(io.stdout()).toContain(`secret=${SECRET}`);

    const logs = captureStdio();
    await backend.logs!(launched.name, { follow: false, stdio: logs.stdio }, ctx);
    expect(logs.stdout()).toContain("started with literal");
    expect(logs.stderr()).toContain("to-stderr");

    await backend.stop!(launched.name, {}, ctx);
    expect((await backend.list!(ctx)).find((b) => b.name === launched.name)?.state).toBe("stopped");
    const followed = captureStdio();
    await backend.logs!(launched.name, { follow: true, stdio: followed.stdio }, ctx);
    expect(followed.stdout()).toContain("started with literal");

    await backend.remove!(launched.name, { force: false }, ctx);
    expect((await backend.list!(ctx)).some((b) => b.name === launched.name)).toBe(false);
    expect(JSON.stringify(invocations(state))).not.toContain(SECRET);
  });

  it("refuses to remove a running bottle without force", async () => {
    const prepared = await prepare({ command: ["sh", "-c", "sleep 300"] });
    const ctx = context();
    const { name } = await backend.launch(prepared, { extraArgs: [], detach: true, stdio: captureStdio().stdio }, ctx);
    await expect(backend.remove!(name, { force: false }, ctx)).rejects.toMatchObject({ code: ErrorCodes.BOTTLE_RUNNING });
    await backend.remove!(name, { force: true }, ctx);
  });

  it("answers BOTTLE_NOT_FOUND for a name it does not know", async () => {
    const ctx = context();
    for (const operation of [
      () => backend.stop!("claude-bottle-nope-000000", {}, ctx),
      () => backend.remove!("claude-bottle-nope-000000", { force: true }, ctx),
      () => backend.exec!("claude-bottle-nope-000000", { command: ["true"], stdio: captureStdio().stdio }, ctx),
      () => backend.logs!("claude-bottle-nope-000000", { follow: false, stdio: captureStdio().stdio }, ctx),
    ]) {
      await expect(operation()).rejects.toMatchObject({ code: ErrorCodes.BOTTLE_NOT_FOUND });
    }
  });
});

describe("detached bottles on the newer smolvm and the old one alike", () => {
  it("logs -f prints the command's output while it runs, not only when it ends", async () => {
    const prepared = await prepare({ command: ["sh", "-c", "echo first; sleep 300"] });
    const ctx = context();
    const { name } = await backend.launch(prepared, { extraArgs: [], detach: true, stdio: captureStdio().stdio }, ctx);
    const io = captureStdio();
    const follow = createTestContext({ cacheDir });
    const following = backend.logs!(name, { follow: true, stdio: io.stdio }, follow);
    await vi.waitFor(() => expect(io.stdout()).toContain("first"), { timeout: 15_000, interval: 100 });
    follow.controller.abort();
    await following;
    await backend.remove!(name, { force: true }, ctx);
  });

  it("attach connects to the command: its input, its output from now on, and its exit code", async () => {
    const prepared = await prepare({ command: ["sh", "-c", 'echo ready; read line; echo "got:$line"; read again; echo "then:$again" >&2; exit 3'] });
    const ctx = context();
    const { name } = await backend.launch(prepared, { extraArgs: [], detach: true, stdio: captureStdio().stdio }, ctx);
    await vi.waitFor(async () => {
      const early = captureStdio();
      await backend.logs!(name, { follow: false, stdio: early.stdio }, ctx);
      expect(early.stdout()).toContain("ready");
    }, { timeout: 15_000, interval: 100 });

    // A first attach sends one line and leaves (Ctrl-C): the bottle keeps running, its input open.
    const first = captureStdio("hello\n");
    const leaving = createTestContext({ cacheDir });
    const attached = backend.attach!(name, { stdio: first.stdio }, leaving);
    await vi.waitFor(() => expect(first.stdout()).toContain("got:hello"), { timeout: 15_000, interval: 100 });
    expect(first.stdout()).not.toContain("ready");
    leaving.controller.abort();
    await expect(attached).rejects.toMatchObject({ code: ErrorCodes.ABORTED });
    expect((await backend.list!(ctx)).find((b) => b.name === name)?.state).toBe("running");

    // A second one finishes it and gets its exit code.
    const stdin = new PassThrough();
    const second = captureStdio();
    const code = backend.attach!(name, { stdio: { ...second.stdio, stdin } }, context());
    stdin.write("world\n");
    expect(await code).toBe(3);
    expect(second.stderr()).toContain("then:world");
    await vi.waitFor(async () => expect((await backend.list!(ctx)).find((b) => b.name === name)?.state).toBe("stopped"), { timeout: 15_000 });
    await expect(backend.attach!(name, { stdio: captureStdio().stdio }, ctx)).rejects.toMatchObject({ code: ErrorCodes.BOTTLE_NOT_RUNNING });
    await backend.remove!(name, { force: false }, ctx);
    expect(JSON.stringify(invocations(state))).not.toContain(SECRET);
  });

  it("never lifts the loopback floor for a bottle: only pack create runs with it lifted", () => {
    const records = invocationRecords(state).filter((r) => r.argv[0] === "pack" || r.argv[0] === "machine");
    const lifted = records.filter((r) => r.floor !== records.find((x) => x.argv[0] === "machine")!.floor);
    if (NEWER_DOUBLE) {
      expect(records.filter((r) => r.argv[0] === "machine").every((r) => r.floor === "metadata-and-loopback")).toBe(true);
      expect(records.filter((r) => r.argv[0] === "pack").every((r) => r.floor === "metadata")).toBe(true);
      expect(lifted.every((r) => r.argv[0] === "pack")).toBe(true);
    } else {
      expect(records.every((r) => r.floor === "metadata")).toBe(true);
    }
  });

  it("machines of the newer smolvm: egress flags and credentials on create are recorded, pause shows as paused, delete without -f is refused", async () => {
    const prepared = await prepare({ command: ["sh", "-c", "sleep 300"] });
    const name = `claude-bottle-${testSlug("smol-launch-test")}-${Date.now().toString(16)}`;
    const smolvm = (args: string[]) => execa(SMOLVM_DOUBLE, args, { reject: false, stdin: "ignore" });
    const create = await smolvm([
      ...machineCreateArguments(prepared, name, []),
      "--allow-host", "api.anthropic.com", "--allow-cidr", "10.1.0.0/16",
      ...(NEWER_DOUBLE ? ["--allow-host-pattern", "*.github.com", "--credential", "GH=GH_TOKEN@api.github.com"] : []),
    ]);
    try {
      expect(create.exitCode, create.stderr).toBe(0);
      const recorded = JSON.parse(readFileSync(join(state, "machines.json"), "utf8"))[name];
      expect(recorded.egress).toMatchObject({ allow_host: ["api.anthropic.com"], allow_cidr: ["10.1.0.0/16"] });
      expect(recorded.network).toBe(true);
      if (NEWER_DOUBLE) {
        expect(recorded.egress.allow_host_pattern).toEqual(["*.github.com"]);
        expect(recorded.credentials).toEqual([{ name: "GH", env_var: "GH_TOKEN", hosts: ["api.github.com"], placeholder: expect.stringMatching(/^smolvm-credential-GH-/) }]);
      }
      const ctx = context();
      const listed = (await backend.list!(ctx)).find((b) => b.name === name)!;
      expect(listed.state).toBe("created");
      expect(listed.created).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(Math.abs(Date.parse(listed.created) - Date.now())).toBeLessThan(120_000);
      expect((await smolvm(["machine", "start", "--name", name])).exitCode).toBe(0);
      if (NEWER_DOUBLE) {
        expect((await smolvm(["machine", "pause", "--name", name])).exitCode).toBe(0);
        expect((await backend.list!(ctx)).find((b) => b.name === name)?.state).toBe("paused");
      }
      const asked = await smolvm(["machine", "delete", "--name", name]);
      if (NEWER_DOUBLE) {
        expect(asked.exitCode).toBe(1);
        expect(asked.stderr).toContain(`machine '${name}' needs confirmation but stdin is not a terminal; pass --force`);
        expect((await backend.list!(ctx)).find((b) => b.name === name)?.state).toBe("stopped");
      } else {
        expect(asked.exitCode).toBe(0);
        expect(asked.stdout).toContain("Cancelled");
      }
      expect((await backend.list!(ctx)).some((b) => b.name === name)).toBe(true);
    } finally {
      await smolvm(["machine", "delete", "--name", name, "-f"]);
    }
  });
});
