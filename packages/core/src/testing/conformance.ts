import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ExpectStatic } from "vitest";
import type { ResolvedAgent } from "../agent/model.js";
import type { Backend, BackendFactory, Launched, LaunchOptions, Prepared } from "../backend.js";
import type { BackendContext } from "../context.js";
import { BottleError, ErrorCodes } from "../errors.js";
import { checkedBackend, requireCapability, validateBackend } from "../plugin/load-backend.js";
import { captureStdio, createTestContext, expectBottleError, type CapturedStdio, type TestContext } from "./harness.js";

/** The parts of vitest the suite uses; pass vitest's own so results land in your run. */
export interface VitestApi {
  describe: (name: string, body: () => void) => void;
  it: (name: string, body: () => Promise<void>, timeout?: number) => void;
  beforeAll: (body: () => Promise<void> | void, timeout?: number) => void;
  afterAll: (body: () => Promise<void> | void, timeout?: number) => void;
  /** vitest's `expect`; default: the one `import("vitest")` finds. */
  expect?: ExpectStatic;
}

export interface ConformanceOptions<O = unknown> {
  // Any backend's factory: the suite only calls it and drives the result through the contract.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  factory: BackendFactory<O, any>;
  /** Options passed to the factory. */
  factoryOptions?: O;
  /**
   * A runnable agent whose image has a POSIX `sh` with `echo`, `cat`, `pwd`,
   * `read` and `sleep`. The suite replaces its command, args, workspace and env.
   */
  agent: () => ResolvedAgent | Promise<ResolvedAgent>;
  /**
   * Context overrides (an environment, a cache directory). Without a
   * `cacheDir` the suite uses one of its own, removed at the end; every
   * step of a test, its clean-up included, gets the same one.
   */
  context?: () => Partial<BackendContext>;
  /** Per-test timeout in ms; builds can be slow. Default 120 s. */
  timeout?: number;
}

/** What a bottle printed, for failure messages: the bottle's own stderr is usually what explains them. */
function shown(label: string, io: CapturedStdio): string {
  return `${label}\n  bottle stdout: ${JSON.stringify(io.stdout())}\n  bottle stderr: ${JSON.stringify(io.stderr())}`;
}

/**
 * The promises every backend makes, one test each, so a failure names the
 * guarantee that broke. A backend package runs it in its own test suite:
 *
 *   describeBackendConformance({ describe, it, beforeAll, afterAll }, { factory, agent })
 *
 * The backend is driven as the CLI drives it (through `checkedBackend`, so a
 * `launch` result is validated); what a test starts is removed with the
 * context that test used, and the suite's temporary directories go at the end.
 */
export function describeBackendConformance<O>(vitest: VitestApi, options: ConformanceOptions<O>): void {
  const { describe, it, beforeAll, afterAll } = vitest;
  // Set in beforeAll: importing vitest at the top would make this module unusable outside it.
  let expect: ExpectStatic;
  const timeout = options.timeout ?? 120_000;
  let backend: Backend;
  let baseAgent: ResolvedAgent;
  let root: string;
  let workspace: string;
  let cacheDir: string;
  /** Bottles still to remove, each with the context that made it. */
  const leftovers = new Map<string, BackendContext>();
  // Capabilities are read once up front so that each advertised operation gets a test of its own.
  const advertised = new Set<string>(options.factory(options.factoryOptions).capabilities);
  const has = (c: string) => advertised.has(c);

  const context = (patch: Partial<BackendContext> = {}): TestContext => {
    const given = options.context?.() ?? {};
    return createTestContext({ cacheDir, ...given, ...patch, env: { ...given.env, ...patch.env } });
  };
  const agentWith = (patch: Partial<ResolvedAgent>): ResolvedAgent => ({ ...baseAgent, workspace, ...patch });
  const launchOptions = (io: CapturedStdio, patch: Partial<LaunchOptions> = {}): LaunchOptions => ({
    extraArgs: [],
    detach: false,
    stdio: io.stdio,
    ...patch,
  });
  const run = async (patch: Partial<ResolvedAgent>, launch: Partial<LaunchOptions> = {}, input = "", ctx = context()) => {
    const prepared = await backend.prepare(agentWith(patch), ctx);
    const io = captureStdio(input);
    const launched = await backend.launch(prepared, launchOptions(io, launch), ctx);
    return { launched, io };
  };
  const exitCode = (launched: Launched, io: CapturedStdio): number => {
    expect(launched.detached, shown("an attached launch came back detached", io)).toBe(false);
    return launched.detached ? NaN : launched.exitCode;
  };
  const launchDetached = async (command: readonly string[]): Promise<{ name: string; ctx: BackendContext }> => {
    const ctx = context();
    const prepared = await backend.prepare(agentWith({ command }), ctx);
    const launched = await backend.launch(prepared, launchOptions(captureStdio(), { detach: true }), ctx);
    expect(launched.detached, "a detached launch came back attached").toBe(true);
    leftovers.set(launched.name, ctx);
    return { name: launched.name, ctx };
  };
  const removeBottle = async (name: string) => {
    const ctx = leftovers.get(name);
    if (!ctx || !has("remove")) return;
    leftovers.delete(name);
    await requireCapability(backend, "remove")(name, { force: true }, ctx);
  };

  describe("backend conformance", () => {
    beforeAll(async () => {
      expect = vitest.expect ?? (await import("vitest")).expect;
      backend = checkedBackend(validateBackend("under test", options.factory(options.factoryOptions)));
      baseAgent = await options.agent();
      root = await mkdtemp(join(tmpdir(), "claude-bottle-conformance-"));
      workspace = join(root, "workspace");
      cacheDir = join(root, "cache");
      await Promise.all([mkdir(workspace), mkdir(cacheDir)]);
    }, timeout);

    afterAll(async () => {
      const failures: unknown[] = [];
      for (const name of [...leftovers.keys()]) await removeBottle(name).catch((error: unknown) => failures.push(error));
      if (root) await rm(root, { recursive: true, force: true });
      // A bottle the suite could not remove is a leak the backend's author needs to hear about.
      if (failures.length) throw new Error(`could not remove what the tests started: ${failures.map(String).join("; ")}`);
    }, timeout);

    it("declares contract version 1, a name and known capabilities", async () => {
      expect(backend.apiVersion).toBe(1);
      expect(backend.name).toMatch(/^[a-z0-9][a-z0-9-]*$/);
    });

    it("prepare returns the agent and this backend's name as `backend`", async () => {
      const agent = agentWith({ command: ["sh", "-c", "exit 0"] });
      const prepared: Prepared = await backend.prepare(agent, context());
      expect(prepared.backend).toBe(backend.name);
      expect(prepared.agent.slug).toBe(agent.slug);
    }, timeout);

    it("prepare is idempotent: twice in a row, then twice at once, and each result launches", async () => {
      const agent = agentWith({ command: ["sh", "-c", "exit 0"] });
      const ctx = context();
      const first = await backend.prepare(agent, ctx);
      const second = await backend.prepare(agent, ctx);
      const [third, fourth] = await Promise.all([backend.prepare(agent, context()), backend.prepare(agent, context())]);
      for (const prepared of [first, second, third!, fourth!]) {
        const io = captureStdio();
        const launched = await backend.launch(prepared, launchOptions(io), ctx);
        expect(exitCode(launched, io), shown("exit code of `sh -c 'exit 0'` after repeated prepare", io)).toBe(0);
      }
    }, timeout);

    it("launch resolves with the agent's exit code", async () => {
      for (const code of [0, 3, 42]) {
        const { launched, io } = await run({ command: ["sh", "-c", `exit ${code}`] });
        expect(exitCode(launched, io), shown(`exit code of \`sh -c 'exit ${code}'\``, io)).toBe(code);
      }
    }, timeout);

    it("keeps stdout and stderr apart and pipes stdin without a terminal", async () => {
      const { io } = await run({ command: ["sh", "-c", "cat; echo to-stderr >&2"] }, {}, "from-stdin\n");
      expect(io.stdout(), shown("stdin, copied to stdout by cat", io)).toContain("from-stdin");
      expect(io.stdout(), shown("stdout, which must not carry stderr", io)).not.toContain("to-stderr");
      expect(io.stderr(), shown("stderr", io)).toContain("to-stderr");
    }, timeout);

    it("appends the agent's args, then the extra args, to the command", async () => {
      const { io } = await run({ command: ["sh", "-c", 'echo "args:$*"', "sh"], args: ["one"] }, { extraArgs: ["two", "three"] });
      expect(io.stdout(), shown("the arguments the command saw", io)).toContain("args:one two three");
    }, timeout);

    it("mounts the workspace at /workspace, the working directory, both ways", async () => {
      await writeFile(join(workspace, "marker.txt"), "from-the-host");
      const { io } = await run({ command: ["sh", "-c", "pwd; cat marker.txt; echo from-the-bottle > back.txt"] });
      expect(io.stdout(), shown("the working directory", io)).toMatch(/^\/workspace$/m);
      expect(io.stdout(), shown("a host file read in the bottle", io)).toContain("from-the-host");
      const back = await readFile(join(workspace, "back.txt"), "utf8").catch(() => "(no file)");
      expect(back.trim(), shown("a file the bottle wrote, read on the host", io)).toBe("from-the-bottle");
    }, timeout);

    it("passes literal and passthrough environment entries, skipping unset passthroughs", async () => {
      const ctx = context({ env: { CB_PASSED: "from-host" } });
      const agent = agentWith({
        command: ["sh", "-c", 'echo "L=$CB_LITERAL P=$CB_PASSED U=${CB_UNSET-unset}"'],
        env: [
          { name: "CB_LITERAL", passthrough: false, value: "lit" },
          { name: "CB_PASSED", passthrough: true },
          { name: "CB_UNSET", passthrough: true },
        ],
      });
      const io = captureStdio();
      await backend.launch(await backend.prepare(agent, ctx), launchOptions(io), ctx);
      expect(io.stdout(), shown("the environment the command saw", io)).toContain("L=lit P=from-host U=unset");
    }, timeout);

    it("refuses a workspace that does not exist with WORKSPACE_NOT_FOUND", async () => {
      const ctx = context();
      await expectBottleError(
        (async () => {
          const prepared = await backend.prepare(agentWith({ workspace: join(workspace, "does-not-exist"), command: ["sh", "-c", "exit 0"] }), ctx);
          await backend.launch(prepared, launchOptions(captureStdio()), ctx);
        })(),
        ErrorCodes.WORKSPACE_NOT_FOUND,
      );
    }, timeout);

    it("stops before doing work when the signal has already fired (ABORTED)", async () => {
      const controller = new AbortController();
      controller.abort();
      await expectBottleError(backend.prepare(agentWith({ command: ["sh", "-c", "exit 0"] }), context({ signal: controller.signal })), ErrorCodes.ABORTED);
    }, timeout);

    if (!has("detach")) {
      it("refuses a detached launch with UNSUPPORTED, as it does not advertise detach", async () => {
        const ctx = context();
        const prepared = await backend.prepare(agentWith({ command: ["sh", "-c", "exit 0"] }), ctx);
        await expectBottleError(backend.launch(prepared, launchOptions(captureStdio(), { detach: true }), ctx), ErrorCodes.UNSUPPORTED);
      }, timeout);
    } else {
      describe("a detached bottle", () => {
        let bottle: { name: string; ctx: BackendContext };
        beforeAll(async () => {
          bottle = await launchDetached(["sh", "-c", "echo started; sleep 300"]);
        }, timeout);

        if (has("list")) {
          it("list: shows it running, with its agent, workspace and creation time", async () => {
            const listed = (await requireCapability(backend, "list")(bottle.ctx)).find((b) => b.name === bottle.name);
            expect(listed, `list has no ${bottle.name}`).toBeDefined();
            expect(listed).toMatchObject({ name: bottle.name, state: "running", agent: baseAgent.slug, workspace, backend: backend.name });
            expect(Date.parse(listed!.created), `created: ${listed!.created}`).not.toBeNaN();
          }, timeout);
        }
        if (has("exec")) {
          it("exec: runs a command in /workspace and resolves with its exit code", async () => {
            const io = captureStdio();
            const code = await requireCapability(backend, "exec")(bottle.name, { command: ["sh", "-c", "pwd; exit 5"], stdio: io.stdio }, bottle.ctx);
            expect(code, shown("exec's exit code", io)).toBe(5);
            expect(io.stdout(), shown("exec's working directory", io)).toMatch(/^\/workspace$/m);
          }, timeout);
        }
        if (has("logs")) {
          it("logs: gives what the bottle printed", async () => {
            const io = captureStdio();
            // Detached output may take a moment to reach wherever the backend keeps it.
            await expect
              .poll(
                async () => {
                  await requireCapability(backend, "logs")(bottle.name, { follow: false, stdio: io.stdio }, bottle.ctx);
                  return io.stdout();
                },
                { timeout: 10_000, interval: 250 },
              )
              .toContain("started");
          }, timeout);
        }
        if (has("restartProxy")) {
          it("restartProxy: leaves a running bottle running (UNSUPPORTED when it has no proxy), and a name no bottle has is BOTTLE_NOT_FOUND", async () => {
            const restart = requireCapability(backend, "restartProxy");
            await restart(bottle.name, {}, bottle.ctx).catch((error: unknown) => {
              if (!BottleError.isInstance(error) || error.code !== ErrorCodes.UNSUPPORTED) throw error;
            });
            if (has("list")) {
              const listed = (await requireCapability(backend, "list")(bottle.ctx)).find((b) => b.name === bottle.name);
              expect(listed?.state).toBe("running");
            }
            await expectBottleError(restart(`${bottle.name}-no-such-bottle`, {}, bottle.ctx), ErrorCodes.BOTTLE_NOT_FOUND);
          }, timeout);
        }
        if (has("stop")) {
          it("stop: the bottle is no longer running", async () => {
            await requireCapability(backend, "stop")(bottle.name, {}, bottle.ctx);
            if (has("list")) {
              const listed = (await requireCapability(backend, "list")(bottle.ctx)).find((b) => b.name === bottle.name);
              expect(listed?.state ?? "gone").not.toBe("running");
            }
          }, timeout);
        }
        if (has("remove")) {
          it("remove: the bottle is gone, and a second remove is BOTTLE_NOT_FOUND", async () => {
            await removeBottle(bottle.name);
            if (has("list")) {
              expect((await requireCapability(backend, "list")(bottle.ctx)).map((b) => b.name)).not.toContain(bottle.name);
            }
            await expectBottleError(requireCapability(backend, "remove")(bottle.name, { force: true }, bottle.ctx), ErrorCodes.BOTTLE_NOT_FOUND);
          }, timeout);
        }
      });

      if (has("attach")) {
        it("attach: connects stdin and stdout to the bottle's command and resolves with its exit code", async () => {
          const { name, ctx } = await launchDetached(["sh", "-c", 'echo ready; read line; echo "got:$line"; exit 7']);
          const io = captureStdio("hello\n");
          const code = await requireCapability(backend, "attach")(name, { stdio: io.stdio }, ctx);
          expect(code, shown("the exit code attach resolved with", io)).toBe(7);
          expect(io.stdout(), shown("what attach relayed", io)).toContain("got:hello");
          await removeBottle(name);
        }, timeout);
      }

      for (const operation of ["stop", "remove", "logs", "attach", "exec"] as const) {
        if (!has(operation)) continue;
        it(`${operation}: an unknown bottle is BOTTLE_NOT_FOUND`, async () => {
          const ctx = context();
          const name = "claude-bottle-conformance-nope";
          const io = captureStdio();
          const call = {
            stop: () => requireCapability(backend, "stop")(name, {}, ctx),
            remove: () => requireCapability(backend, "remove")(name, { force: true }, ctx),
            logs: () => requireCapability(backend, "logs")(name, { follow: false, stdio: io.stdio }, ctx),
            attach: () => requireCapability(backend, "attach")(name, { stdio: io.stdio }, ctx),
            exec: () => requireCapability(backend, "exec")(name, { command: ["true"], stdio: io.stdio }, ctx),
          }[operation];
          await expectBottleError(call(), ErrorCodes.BOTTLE_NOT_FOUND);
        }, timeout);
      }
    }

    if (has("doctor")) {
      it("doctor: reports checks instead of throwing", async () => {
        const checks = await requireCapability(backend, "doctor")(context());
        expect(checks.length, "doctor returned no checks").toBeGreaterThan(0);
        for (const check of checks) {
          expect(check).toEqual(expect.objectContaining({ name: expect.any(String), ok: expect.any(Boolean), detail: expect.any(String) }));
        }
      }, timeout);
    }
  });
}
