import { appendFileSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { SmolmachinesErrorCodes } from "../src/index.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ErrorCodes, type NetworkPolicy, type ResolvedAgent } from "@claude-bottle/core";
import { bottleErrorOf, captureStdio, createTestContext, testSpec } from "@claude-bottle/core/testing";
import { busyboxAgent, buildTestRegistryImage } from "@claude-bottle/test-support";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { OwnerLabels } from "../src/attached-machine.js";
import { createSmolmachinesBackend } from "../src/backend.js";
import { publicRanges } from "../src/egress/policy.js";
import type { SmolmachinesPrepared } from "../src/pipeline/prepare.js";
import { engine, holdFixture, invocationRecords, invocations, NEWER_DOUBLE, SMOLVM_DOUBLE, useDoubleState, testSlug } from "./support.js";

const SECRET = "sk-egress-test-5f1d0c9a-never-anywhere";
let state: string;
let cacheDir: string;
let workspace: string;
let backend: ReturnType<typeof createSmolmachinesBackend>;
const options = () => ({ smolvm: SMOLVM_DOUBLE, registryImage: buildTestRegistryImage(), dockerDesktop: false });

const allowList = (allow: string[]): NetworkPolicy => ({ mode: "allow", allow, deny: [], allowPrivate: [] });
const agent = (patch: Partial<ResolvedAgent> = {}) => busyboxAgent({ slug: testSlug("smol-egress-test"), workspace, network: true, ...patch });
const context = () => createTestContext({ cacheDir, env: { CB_TOKEN: SECRET } });
const prepare = async (patch: Partial<ResolvedAgent> = {}) => (await backend.prepare(testSpec(agent(patch)), context())) as SmolmachinesPrepared;

/** The double's machines, ours or not, as `machine ls --json` has them. */
async function machines(): Promise<{ name: string; state: string; labels: Record<string, string> }[]> {
  return JSON.parse((await execa(SMOLVM_DOUBLE, ["machine", "ls", "--json"])).stdout) as never;
}
const recorded = (name: string) => JSON.parse(readFileSync(join(state, "machines.json"), "utf8"))[name];
const since = (count: number) => invocations(state).slice(count);
const commandsOf = (argvs: string[][]) => argvs.filter((a) => a[0] === "machine").map((a) => `${a[0]} ${a[1]}`);

beforeAll(async () => {
  await engine();
  state = useDoubleState();
  cacheDir = mkdtempSync(join(tmpdir(), "smol-egress-cache-"));
  workspace = mkdtempSync(join(tmpdir(), "smol-egress-workspace-"));
  backend = createSmolmachinesBackend(options());
});

afterAll(async () => {
  for (const bottle of await backend.list!(context())) await backend.remove!(bottle.name, { force: true }, context());
  expect((await machines()).filter((m) => m.labels["dev.claude-bottle.agent"] === testSlug("smol-egress-test"))).toEqual([]);
});

describe("an attached bottle with network is a machine while it runs", () => {
  it("network: true is created with the public ranges under the strict floor, exec'd, and deleted; its exit code and output are the command's", async () => {
    const prepared = await prepare({ command: ["sh", "-c", "echo out; echo err >&2; exit 5"] });
    const before = invocations(state).length;
    const io = captureStdio();
    const launched = await backend.launch(prepared, { extraArgs: [], detach: false, stdio: io.stdio }, context());

    expect(launched).toMatchObject({ detached: false, exitCode: 5 });
    expect(io.stdout()).toContain("out");
    expect(io.stderr()).toContain("err");
    const calls = since(before);
    // The name is checked free first (NAME_CONFLICT), then the machine lives as long as the command.
    expect(commandsOf(calls)).toEqual(["machine ls", "machine create", "machine start", "machine exec", "machine delete"]);
    const create = calls.find((a) => a[1] === "create")!;
    expect(create.slice(0, 6)).toEqual(["machine", "create", "--name", launched.name, "--from", prepared.artifact.machine]);
    expect(create.flatMap((arg, i) => (create[i - 1] === "--allow-cidr" ? [arg] : []))).toEqual(publicRanges());
    expect(create).toContain(`${OwnerLabels.pid}=${process.pid}`);
    expect(calls.find((a) => a[1] === "delete")).toEqual(["machine", "delete", "--name", launched.name, "-f"]);
    // The floor is strict where the machine boots: no private address, even one an allowed name resolves to.
    const start = invocationRecords(state).slice(before).find((r) => r.argv[1] === "start")!;
    expect(start.floor).toBe("strict");
    expect((await machines()).some((m) => m.name === launched.name)).toBe(false);
  });

  it("a bottle without network keeps the fast machine run --from", async () => {
    const prepared = await prepare({ network: false, command: ["true"] });
    const before = invocations(state).length;
    await backend.launch(prepared, { extraArgs: [], detach: false, stdio: captureStdio().stdio }, context());
    expect(commandsOf(since(before))).toEqual(["machine run"]);
    expect(since(before)[0]).not.toContain("--net");
  });

  it("a policy that admits nothing is a bottle without network, not an open one", async () => {
    const egress = { mode: "allow", allow: ["a.example.com"], deny: ["a.example.com"], allowPrivate: [] } as const;
    const prepared = await prepare({ egress, command: ["true"] });
    const before = invocations(state).length;
    await backend.launch(prepared, { extraArgs: [], detach: false, stdio: captureStdio().stdio }, context());
    expect(commandsOf(since(before))).toEqual(["machine run"]);
    expect(since(before)[0]).not.toContain("--net");
  });

  it("an allow-list by name: --allow-host-pattern on the newer smolvm, SMOLVM_VERSION with the upgrade on 1.9, before anything is built", async () => {
    const patch = { egress: allowList(["api.example.com", "*.example.org"]), command: ["sh", "-c", "exit 0"] };
    if (!NEWER_DOUBLE) {
      const before = invocations(state).length;
      const error = await bottleErrorOf(backend.prepare(testSpec(agent(patch)), context()));
      expect(error.code).toBe(SmolmachinesErrorCodes.SMOLVM_VERSION);
      expect(error.message).toContain("machine create --allow-host-pattern");
      expect(error.message).toContain("1.22.0");
      expect(error.message).toContain("api.example.com");
      expect(error.hint).toMatch(/Upgrade smolvm to 1\.22\.0 or newer \(.+\)/);
      expect(since(before).some((a) => a[0] === "pack" || a[1] === "create")).toBe(false);
      return;
    }
    const prepared = await prepare(patch);
    const before = invocations(state).length;
    const launched = await backend.launch(prepared, { extraArgs: [], detach: false, stdio: captureStdio().stdio }, context());
    expect(launched).toMatchObject({ exitCode: 0 });
    const create = since(before).find((a) => a[1] === "create")!;
    expect(create.join(" ")).toContain("--allow-host-pattern api.example.com --allow-host-pattern *.example.org");
    expect(create).not.toContain("--allow-host");
    expect(create).not.toContain("--allow-cidr");
  });

  it("a policy smolvm cannot say is refused before anything is built, naming the field", async () => {
    const before = invocations(state).length;
    const error = await bottleErrorOf(backend.prepare(testSpec(agent({ egress: allowList(["api.example.com:443"]) })), context()));
    expect(error.code).toBe(ErrorCodes.UNSUPPORTED);
    expect(error.message).toContain('field "network.allow"');
    expect(since(before).filter((a) => a[0] !== "--version" && a.at(-1) !== "--help")).toEqual([]);
  });

  it("Ctrl-C ends the command and deletes the machine", async () => {
    const prepared = await prepare({ command: ["sh", "-c", "echo up; sleep 300"] });
    const ctx = context();
    const io = captureStdio();
    const launching = backend.launch(prepared, { extraArgs: [], detach: false, stdio: io.stdio }, ctx);
    await vi.waitFor(() => expect(io.stdout()).toContain("up"), { timeout: 30_000, interval: 100 });
    const name = (await machines()).find((m) => m.labels[OwnerLabels.pid] === String(process.pid))!.name;
    ctx.controller.abort();
    expect((await bottleErrorOf(launching)).code).toBe(ErrorCodes.ABORTED);
    expect((await machines()).some((m) => m.name === name)).toBe(false);
  });

  it("a CLI killed outright leaves its machine to the next command, which deletes it", async () => {
    const prepared = await prepare({ command: ["sh", "-c", "sleep 300"] });
    const { child, output, exited } = await holdFixture("launch-and-hold.mjs", [JSON.stringify(options()), JSON.stringify(prepared), cacheDir], "running");
    expect(output).toContain("running\n");
    child.kill("SIGKILL");
    await exited;
    const left = (await machines()).filter((m) => m.labels[OwnerLabels.pid] === String(child.pid));
    expect(left.map((m) => m.state)).toEqual(["running"]);

    const listed = await backend.list!(context());
    expect(listed.some((b) => b.name === left[0]!.name)).toBe(false);
    expect((await machines()).some((m) => m.name === left[0]!.name)).toBe(false);
  });
});

describe("logs --egress", () => {
  it("prints smolvm's egress events as the docker backend's records, and follows new ones", async () => {
    const prepared = await prepare({ command: ["sh", "-c", "sleep 300"] });
    const ctx = context();
    const { name } = await backend.launch(prepared, { extraArgs: [], detach: true, stdio: captureStdio().stdio }, ctx);
    try {
      const audit = join(state, "machines", name, "egress-denials.log");
      appendFileSync(audit, "2026-01-02T03:04:05Z egress policy denied resolve evil.example\n2026-01-02T03:04:06Z egress policy denied connect 10.0.0.7:22\n");
      const io = captureStdio();
      await backend.logs!(name, { follow: false, egress: true, stdio: io.stdio }, ctx);
      const lines = io.stdout().trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(lines).toEqual([
        { time: "2026-01-02T03:04:05.000Z", host: "evil.example", port: null, reason: "not-allowed", detail: expect.stringContaining("allow-list") },
        { time: "2026-01-02T03:04:06.000Z", host: "10.0.0.7", port: 22, reason: "blocked-address", detail: expect.stringContaining("10.0.0.0/8") },
      ]);

      const follow = createTestContext({ cacheDir });
      const followed = captureStdio();
      const following = backend.logs!(name, { follow: true, egress: true, stdio: followed.stdio }, follow);
      await vi.waitFor(() => expect(followed.stdout().trim().split("\n")).toHaveLength(2), { timeout: 15_000, interval: 100 });
      appendFileSync(audit, "2026-01-02T03:04:07Z egress policy denied connect 198.51.100.1:443\n");
      await vi.waitFor(() => expect(followed.stdout()).toContain('"host":"198.51.100.1","port":443,"reason":"ip-literal"'), { timeout: 15_000, interval: 100 });
      follow.controller.abort();
      await following;
      expect(followed.stdout().trim().split("\n")).toHaveLength(3);
    } finally {
      await backend.remove!(name, { force: true }, ctx);
    }
  });

  it("says a bottle without network has nothing to show", async () => {
    const prepared = await prepare({ network: false, command: ["sh", "-c", "sleep 300"] });
    const ctx = context();
    const { name } = await backend.launch(prepared, { extraArgs: [], detach: true, stdio: captureStdio().stdio }, ctx);
    try {
      const error = await bottleErrorOf(backend.logs!(name, { follow: false, egress: true, stdio: captureStdio().stdio }, ctx));
      expect(error.code).toBe(ErrorCodes.UNSUPPORTED);
    } finally {
      await backend.remove!(name, { force: true }, ctx);
    }
  });
});

/** Every file under `dir`, with its content. */
function filesUnder(dir: string): { path: string; text: string }[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((relative) => join(dir, relative))
    .filter((path) => statSync(path, { throwIfNoEntry: false })?.isFile())
    .map((path) => ({ path, text: readFileSync(path, "latin1") }));
}

describe("credentials (issue 12): --credential, the value only in smolvm's environment", () => {
  const credentials = [{ env: "CB_TOKEN", hosts: ["api.example.com"] }];
  const patch = (command: string[]) => ({ egress: allowList(["api.example.com"]), credentials, command });

  it("the bottle holds a placeholder and no argv, label, state file or log holds the value; a smolvm without --credential is SMOLVM_VERSION", async () => {
    if (!NEWER_DOUBLE) {
      // Before anything is built, naming the flag and the release.
      const error = await bottleErrorOf(backend.prepare(testSpec(agent({ ...patch(["true"]), egress: undefined })), context()));
      expect(error.code).toBe(SmolmachinesErrorCodes.SMOLVM_VERSION);
      expect(error.message).toContain("machine create --credential");
      expect(error.message).toContain("CB_TOKEN");
      expect(error.message).not.toContain(SECRET);
      expect(error.hint).toContain("1.22.0");
      return;
    }
    const prepared = await prepare(patch(["sh", "-c", 'echo "token=$CB_TOKEN"']));
    const before = invocations(state).length;
    const io = captureStdio();
    const launched = await backend.launch(prepared, { extraArgs: [], detach: false, stdio: io.stdio }, context());
    expect(launched).toMatchObject({ exitCode: 0 });
    expect(io.stdout()).toMatch(/^token=smolvm-credential-CB_TOKEN-[0-9a-f]+$/m);
    expect(io.stdout()).not.toContain(SECRET);
    const create = since(before).find((a) => a[1] === "create")!;
    expect(create.join(" ")).toContain("--credential CB_TOKEN=CB_TOKEN@api.example.com");

    // A detached one keeps its machine: its record, its logs and every file the double writes are looked at while it runs.
    const ctx = context();
    const detached = await backend.launch(await prepare(patch(["sh", "-c", 'echo "token=$CB_TOKEN"; sleep 300'])), { extraArgs: [], detach: true, stdio: captureStdio().stdio }, ctx);
    try {
      await vi.waitFor(async () => {
        const logs = captureStdio();
        await backend.logs!(detached.name, { follow: false, stdio: logs.stdio }, ctx);
        expect(logs.stdout()).toMatch(/token=smolvm-credential-CB_TOKEN-/);
      }, { timeout: 15_000, interval: 100 });
      expect(recorded(detached.name).credentials_bound).toEqual(["CB_TOKEN"]);
      const files = [...filesUnder(state), ...filesUnder(cacheDir)];
      expect(files.length).toBeGreaterThan(3);
      expect(files.filter((f) => f.text.includes(SECRET)).map((f) => f.path)).toEqual([]);
      expect(JSON.stringify(invocations(state))).not.toContain(SECRET);
      expect(JSON.stringify(await machines())).not.toContain(SECRET);
    } finally {
      await backend.remove!(detached.name, { force: true }, ctx);
    }
  });
});
