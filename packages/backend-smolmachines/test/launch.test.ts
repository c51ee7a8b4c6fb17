import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BottleError, ErrorCodes, Labels, type ResolvedAgent } from "@claude-bottle/core";
import { captureStdio, createTestContext } from "@claude-bottle/core/testing";
import { busyboxAgent, buildTestRegistryImage } from "@claude-bottle/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSmolmachinesBackend } from "../src/backend.js";
import { bottleCommand, machineCreateArguments, machineRunArguments, PASSTHROUGH_LABEL, resourceArguments } from "../src/launch.js";
import type { SmolmachinesPrepared } from "../src/pipeline/prepare.js";
import { engine, fakeSmolvm, invocations, SMOLVM_DOUBLE, useDoubleState } from "./support.js";

const SECRET = "sk-test-0123456789-do-not-log";
let state: string;
let cacheDir: string;
let workspace: string;
let backend: ReturnType<typeof createSmolmachinesBackend>;

function agent(patch: Partial<ResolvedAgent> = {}): ResolvedAgent {
  return busyboxAgent({ slug: "smol-launch-test", workspace, ...patch });
}

const context = () => createTestContext({ cacheDir, env: { CB_SECRET: SECRET } });

async function prepare(patch: Partial<ResolvedAgent> = {}) {
  return (await backend.prepare(agent(patch), context())) as SmolmachinesPrepared;
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
    agent: busyboxAgent({
      slug: "args",
      workspace: "/ws",
      mounts: [{ source: "/data", target: "/data", readOnly: true }],
      env: [
        { name: "FOO", passthrough: false, value: "bar" },
        { name: "TOKEN", passthrough: true },
      ],
      network: true,
      resources: { cpus: 1.5, memory: 3 * 2 ** 30 },
    }),
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
    expect(resourceArguments({ ...prepared.agent, network: false, resources: {} })).toEqual([]);
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
    expect(bottleCommand({ ...prepared, agent: { ...prepared.agent, command: ["claude"], args: ["--x"] } }, ["y"])).toEqual(["claude", "--x", "y"]);
    expect(bottleCommand({ ...prepared, agent: { ...prepared.agent, command: undefined, args: [] } }, [])).toEqual(["/entry", "default"]);
    expect(bottleCommand({ ...prepared, agent: { ...prepared.agent, command: undefined, args: [] } }, ["z"])).toEqual(["/entry", "z"]);
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
    const run = invocations(state).find((argv) => argv[0] === "machine" && argv[1] === "run")!;
    expect(run).toEqual(expect.arrayContaining(["--from", prepared.artifact.machine, "-v", `${workspace}:/workspace`, "-w", "/workspace"]));
    expect(run.join(" ")).toContain("-e CB_LITERAL=literal -e CB_SECRET -i --");
  });

  it("never puts a secret value in any smolvm command line", () => {
    expect(JSON.stringify(invocations(state))).not.toContain(SECRET);
  });

  it("reports smolvm's own refusal as SMOLVM_FAILED, with the command line", async () => {
    const refusing = fakeSmolvm(`if [ "$1" = machine ]; then echo "Error: --from: not a packed machine" >&2; exit 1; fi\nexec "${SMOLVM_DOUBLE}" "$@"`);
    const other = createSmolmachinesBackend({ smolvm: refusing, registryImage: buildTestRegistryImage(), dockerDesktop: false });
    const prepared = await other.prepare(agent({ command: ["true"] }), context());
    const error = await other.launch(prepared, { extraArgs: [], detach: false, stdio: captureStdio().stdio }, context()).catch((e: unknown) => e);
    expect(BottleError.isInstance(error) && error.code).toBe(ErrorCodes.SMOLVM_FAILED);
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
      .prepare(agent({ mounts: [{ source: file, target: "/etc/thing", readOnly: true }] }), context())
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
    expect(listed).toMatchObject({ agent: "smol-launch-test", backend: "smolmachines", state: "running", workspace });

    const io = captureStdio();
    const code = await backend.exec!(launched.name, { command: ["sh", "-c", 'pwd; echo "secret=$CB_SECRET"; exit 4'], stdio: io.stdio }, ctx);
    expect(code).toBe(4);
    expect(io.stdout()).toContain("/workspace");
    expect(io.stdout()).toContain(`secret=${SECRET}`);

    const logs = captureStdio();
    await backend.logs!(launched.name, { follow: false, stdio: logs.stdio }, ctx);
    expect(logs.stdout()).toContain("started with literal");
    expect(logs.stderr()).toContain("to-stderr");

    await backend.stop!(launched.name, ctx);
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
    await expect(backend.remove!(name, { force: false }, ctx)).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    await backend.remove!(name, { force: true }, ctx);
  });

  it("answers BOTTLE_NOT_FOUND for a name it does not know", async () => {
    const ctx = context();
    for (const operation of [
      () => backend.stop!("claude-bottle-nope-000000", ctx),
      () => backend.remove!("claude-bottle-nope-000000", { force: true }, ctx),
      () => backend.exec!("claude-bottle-nope-000000", { command: ["true"], stdio: captureStdio().stdio }, ctx),
      () => backend.logs!("claude-bottle-nope-000000", { follow: false, stdio: captureStdio().stdio }, ctx),
    ]) {
      await expect(operation()).rejects.toMatchObject({ code: ErrorCodes.BOTTLE_NOT_FOUND });
    }
  });
});
