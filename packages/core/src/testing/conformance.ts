import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ResolvedAgent } from "../agent/model.js";
import type { Backend, BackendFactory, LaunchOptions } from "../backend.js";
import type { BackendContext } from "../context.js";
import { ErrorCodes } from "../errors.js";
import { validateBackend } from "../plugin/load-backend.js";
import { bottleErrorOf, captureStdio, createTestContext } from "./harness.js";

/** The parts of vitest the suite uses; pass vitest's own so results land in your run. */
export interface VitestApi {
  describe: (name: string, body: () => void) => void;
  it: (name: string, body: () => Promise<void>, timeout?: number) => void;
  beforeAll: (body: () => Promise<void> | void, timeout?: number) => void;
  afterAll: (body: () => Promise<void> | void, timeout?: number) => void;
}

export interface ConformanceOptions<O = unknown> {
  factory: BackendFactory<O>;
  /** Options passed to the factory. */
  factoryOptions?: O;
  /**
   * A runnable agent whose image has a POSIX `sh` with `echo`, `cat`, `pwd`
   * and `sleep`. The suite replaces its command, args, workspace and env.
   */
  agent: () => ResolvedAgent | Promise<ResolvedAgent>;
  /** Context overrides (a cache directory, an environment). */
  context?: () => Partial<BackendContext>;
  /** Per-test timeout in ms; builds can be slow. Default 120 s. */
  timeout?: number;
}

/**
 * The promises every backend makes, as tests. A backend package runs it in its
 * own test suite:
 *
 *   describeBackendConformance({ describe, it, beforeAll, afterAll }, { factory, agent })
 */
export function describeBackendConformance<O>(vitest: VitestApi, options: ConformanceOptions<O>): void {
  const { describe, it, beforeAll, afterAll } = vitest;
  const timeout = options.timeout ?? 120_000;
  let backend: Backend;
  let baseAgent: ResolvedAgent;
  let workspace: string;
  const context = () => createTestContext({ ...options.context?.() });
  const leftovers = new Set<string>();
  // Capabilities are read once up front so that each advertised operation gets a test of its own.
  const advertised = new Set<string>(options.factory(options.factoryOptions).capabilities);
  const has = (c: string) => advertised.has(c);

  const agentWith = (patch: Partial<ResolvedAgent>): ResolvedAgent => ({ ...baseAgent, workspace, ...patch });
  const run = async (patch: Partial<ResolvedAgent>, launch: Partial<LaunchOptions> = {}, input = "") => {
    const ctx = context();
    const prepared = await backend.prepare(agentWith(patch), ctx);
    const io = captureStdio(input);
    const launched = await backend.launch(prepared, { extraArgs: [], detach: false, stdio: io.stdio, ...launch }, ctx);
    return { launched, stdout: io.stdout, stderr: io.stderr };
  };
  const expectBottleError = async (promise: Promise<unknown>, code?: string) => {
    const error = await bottleErrorOf(promise);
    if (code && error.code !== code) throw new Error(`expected error code ${code}, got ${error.code}: ${error.message}`);
  };
  const check = (condition: boolean, message: string) => {
    if (!condition) throw new Error(message);
  };

  describe(`backend conformance`, () => {
    beforeAll(async () => {
      backend = validateBackend("under test", options.factory(options.factoryOptions));
      baseAgent = await options.agent();
      workspace = await mkdtemp(join(tmpdir(), "claude-bottle-conformance-"));
    }, timeout);

    afterAll(async () => {
      if (backend?.remove) {
        for (const name of leftovers) await backend.remove(name, { force: true }, context()).catch(() => {});
      }
      if (workspace) await rm(workspace, { recursive: true, force: true });
    }, timeout);

    it("declares contract version 1, a name and known capabilities", async () => {
      check(backend.apiVersion === 1, `apiVersion is ${String(backend.apiVersion)}`);
      check(backend.name.length > 0, "name is empty");
    });

    it("prepare is idempotent: twice in a row, then twice at once, and each result launches", async () => {
      const agent = agentWith({ command: ["sh", "-c", "exit 0"] });
      const first = await backend.prepare(agent, context());
      const second = await backend.prepare(agent, context());
      const [third] = await Promise.all([backend.prepare(agent, context()), backend.prepare(agent, context())]);
      for (const prepared of [first, second, third!]) {
        const io = captureStdio();
        const launched = await backend.launch(prepared, { extraArgs: [], detach: false, stdio: io.stdio }, context());
        check(!launched.detached && launched.exitCode === 0, `launch after repeated prepare gave ${JSON.stringify(launched)}`);
      }
    }, timeout);

    it("launch returns the agent's exit code", async () => {
      for (const code of [0, 3, 42]) {
        const { launched } = await run({ command: ["sh", "-c", `exit ${code}`] });
        check(!launched.detached, "an attached launch came back detached");
        check(!launched.detached && launched.exitCode === code, `exit ${code} came back as ${JSON.stringify(launched)}`);
      }
    }, timeout);

    it("keeps stdout and stderr apart and pipes stdin without a terminal", async () => {
      const { stdout, stderr } = await run(
        { command: ["sh", "-c", "cat; echo to-stderr >&2"] },
        {},
        "from-stdin\n",
      );
      check(stdout().includes("from-stdin"), `stdin did not reach the agent; stdout: ${JSON.stringify(stdout())}`);
      check(!stdout().includes("to-stderr"), "stderr leaked into stdout");
      check(stderr().includes("to-stderr"), `stderr was lost: ${JSON.stringify(stderr())}`);
    }, timeout);

    it("appends the agent's args, then the extra args, to the command", async () => {
      const { stdout } = await run(
        { command: ["sh", "-c", 'echo "args:$*"', "sh"], args: ["one"] },
        { extraArgs: ["two", "three"] },
      );
      check(stdout().includes("args:one two three"), `got ${JSON.stringify(stdout())}`);
    }, timeout);

    it("mounts the workspace at /workspace as the working directory", async () => {
      await writeFile(join(workspace, "marker.txt"), "from-the-host");
      const { stdout } = await run({ command: ["sh", "-c", "pwd; cat marker.txt; echo from-the-bottle > back.txt"] });
      check(stdout().includes("/workspace"), `working directory: ${JSON.stringify(stdout())}`);
      check(stdout().includes("from-the-host"), "the workspace file was not visible");
      const { readFile } = await import("node:fs/promises");
      check((await readFile(join(workspace, "back.txt"), "utf8")).trim() === "from-the-bottle", "a file written in the bottle did not reach the host");
    }, timeout);

    it("passes literal and passthrough environment entries, skipping unset passthroughs", async () => {
      const ctx = createTestContext({ ...options.context?.(), env: { ...options.context?.().env, CB_PASSED: "from-host" } });
      const agent = agentWith({
        command: ["sh", "-c", 'echo "L=$CB_LITERAL P=$CB_PASSED U=${CB_UNSET-unset}"'],
        env: [
          { name: "CB_LITERAL", passthrough: false, value: "lit" },
          { name: "CB_PASSED", passthrough: true },
          { name: "CB_UNSET", passthrough: true },
        ],
      });
      const io = captureStdio();
      await backend.launch(await backend.prepare(agent, ctx), { extraArgs: [], detach: false, stdio: io.stdio }, ctx);
      check(io.stdout().includes("L=lit P=from-host U=unset"), `got ${JSON.stringify(io.stdout())}`);
    }, timeout);

    it("refuses a workspace that does not exist with a BottleError", async () => {
      const missing = join(workspace, "does-not-exist");
      const ctx = context();
      await expectBottleError(
        (async () => {
          const prepared = await backend.prepare(agentWith({ workspace: missing, command: ["sh", "-c", "exit 0"] }), ctx);
          await backend.launch(prepared, { extraArgs: [], detach: false, stdio: captureStdio().stdio }, ctx);
        })(),
        ErrorCodes.WORKSPACE_NOT_FOUND,
      );
    }, timeout);

    it("stops before doing work when the signal has already fired", async () => {
      const ctx = context();
      const controller = new AbortController();
      controller.abort();
      await expectBottleError(
        backend.prepare(agentWith({ command: ["sh", "-c", "exit 0"] }), { ...ctx, signal: controller.signal }),
        ErrorCodes.ABORTED,
      );
    }, timeout);

    if (!has("detach")) {
      it("refuses a detached launch with UNSUPPORTED, as it does not advertise detach", async () => {
        const ctx = context();
        const prepared = await backend.prepare(agentWith({ command: ["sh", "-c", "exit 0"] }), ctx);
        await expectBottleError(
          backend.launch(prepared, { extraArgs: [], detach: true, stdio: captureStdio().stdio }, ctx),
          ErrorCodes.UNSUPPORTED,
        );
      }, timeout);
    } else it(`runs the advertised lifecycle: detach, ${[...advertised].filter((c) => c !== "detach" && c !== "doctor" && c !== "attach").join(", ")}`, async () => {
      const ctx = context();
      const prepared = await backend.prepare(agentWith({ command: ["sh", "-c", "echo started; sleep 300"] }), ctx);
      const launched = await backend.launch(prepared, { extraArgs: [], detach: true, stdio: captureStdio().stdio }, ctx);
      check(launched.detached, "a detached launch came back attached");
      leftovers.add(launched.name);

      if (has("list")) {
        const listed = (await backend.list!(ctx)).find((b) => b.name === launched.name);
        check(listed !== undefined, `list does not show ${launched.name}`);
        check(listed!.state === "running", `a detached bottle is ${listed!.state}, not running`);
        check(listed!.agent === baseAgent.slug, `list gives agent ${listed!.agent}, not ${baseAgent.slug}`);
        check(listed!.workspace === workspace, `list gives workspace ${listed!.workspace}`);
        check(!Number.isNaN(Date.parse(listed!.created)), `created is not a date: ${listed!.created}`);
      }
      if (has("exec")) {
        const io = captureStdio();
        const code = await backend.exec!(launched.name, { command: ["sh", "-c", "pwd; exit 5"], stdio: io.stdio }, ctx);
        check(code === 5, `exec returned ${code}, not 5`);
        check(io.stdout().includes("/workspace"), `exec ran in ${JSON.stringify(io.stdout())}`);
      }
      if (has("logs")) {
        const io = captureStdio();
        await backend.logs!(launched.name, { follow: false, stdio: io.stdio }, ctx);
        check(io.stdout().includes("started"), `logs gave ${JSON.stringify(io.stdout())}`);
      }
      if (has("stop")) {
        await backend.stop!(launched.name, ctx);
        if (has("list")) {
          const listed = (await backend.list!(ctx)).find((b) => b.name === launched.name);
          check(listed === undefined || listed.state !== "running", "a stopped bottle is still running");
        }
      }
      if (has("remove")) {
        await backend.remove!(launched.name, { force: true }, ctx);
        leftovers.delete(launched.name);
        if (has("list")) {
          check(!(await backend.list!(ctx)).some((b) => b.name === launched.name), "a removed bottle is still listed");
        }
        await expectBottleError(backend.remove!(launched.name, { force: true }, ctx), ErrorCodes.BOTTLE_NOT_FOUND);
      }
    }, timeout);

    if (has("doctor")) it("doctor reports checks instead of throwing", async () => {
      const checks = await backend.doctor!(context());
      check(Array.isArray(checks) && checks.length > 0, "doctor returned no checks");
      for (const c of checks) {
        check(typeof c.name === "string" && typeof c.ok === "boolean" && typeof c.detail === "string", `malformed check ${JSON.stringify(c)}`);
      }
    }, timeout);
  });
}
