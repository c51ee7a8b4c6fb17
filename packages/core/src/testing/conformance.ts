import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ExpectStatic } from "vitest";
import type { ResolvedAgent } from "../agent/model.js";
import type { Backend, BackendFactory, Launched, LaunchOptions, Prepared } from "../backend.js";
import type { BottleSpec } from "../spec/bottle-spec.js";
import type { BackendContext } from "../context.js";
import { ENFORCEMENTS, type Enforcement } from "../enforcement.js";
import { BottleError, ErrorCodes } from "../errors.js";
import { checkedBackend } from "../plugin/checked-backend.js";
import { requireCapability, validateBackend } from "../plugin/validate-backend.js";
import { captureStdio, createTestContext, expectBottleError, type CapturedStdio, type TestContext } from "./harness.js";
import { testSpec } from "./spec.js";

/** The parts of vitest the suite uses; pass vitest's own so results land in your run. */
export interface VitestApi {
  describe: (name: string, body: () => void) => void;
  it: (name: string, body: () => Promise<void>, timeout?: number) => void;
  beforeAll: (body: () => Promise<void> | void, timeout?: number) => void;
  afterAll: (body: () => Promise<void> | void, timeout?: number) => void;
  /** vitest's `expect`; default: the one `import("vitest")` finds. */
  expect?: ExpectStatic;
}

export interface ConformanceOptions<O = unknown, P extends Prepared = Prepared> {
  /** Your backend's factory, as typed as it is: the suite only calls it and drives the result through the contract. */
  factory: BackendFactory<O, P>;
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
  /**
   * The groups to run, one by one if you like (default all): `lifecycle`
   * (prepare, launch, stdio, workspace, environment, errors), `detached` (the
   * operations on a running bottle it advertises), `enforcement` (each
   * promise it declares in `enforces`, tried as an attack; each it does not,
   * refused by core).
   */
  groups?: readonly ConformanceGroup[];
}

export type ConformanceGroup = "lifecycle" | "detached" | "enforcement";

/**
 * For each enforcement the suite can try with nothing but the bottle's `sh`:
 * an agent asking for it, and what the bottle must not get away with. The
 * network policy and credentials need servers the backend's own tests set up
 * on networks they make; a backend tests those itself (see backend-docker's
 * egress tests), and here only core's refusal of them is checked.
 */
const ASKING: Partial<Record<Enforcement, Partial<ResolvedAgent>>> = {
  "network.none": { network: false },
  "egress.allow": { network: true, egress: { mode: "allow", allow: ["conformance.invalid"], deny: [], allowPrivate: [] } },
  "egress.deny": { network: true, egress: { mode: "all", deny: ["conformance.invalid"], allowPrivate: [] } },
  "egress.ports": { network: true, egress: { mode: "allow", allow: ["conformance.invalid:443"], deny: [], allowPrivate: [] } },
  // Only a user's own agent file may open private ranges (core's hard limits).
  "egress.allowPrivate": { origin: "user", network: true, egress: { mode: "all", deny: [], allowPrivate: ["10.99.0.0/16"] } },
  credentials: { network: true, credentials: [{ env: "CONFORMANCE_TOKEN", hosts: ["conformance.invalid"] }] },
  "limits.cpus": { resources: { cpus: 1 } },
  "limits.memory": { resources: { memory: 48 * 2 ** 20 } },
  "limits.pids": { resources: { pids: 24 } },
  "ports.publish": { ports: [{ host: 39_999, bottle: 3000 }] },
  // Like allowPrivate, only a user's own agent file may name host services.
  "egress.host": { origin: "user", network: true, hostServices: [39_998] },
};

function git(args: readonly string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => execFile("git", args, { cwd }, (error) => (error ? reject(error) : resolve())));
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
export function describeBackendConformance<O, P extends Prepared>(vitest: VitestApi, options: ConformanceOptions<O, P>): void {
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
  const declaredBackend = options.factory(options.factoryOptions);
  const advertised = new Set<string>(declaredBackend.capabilities);
  const has = (c: string) => advertised.has(c);
  const enforced = new Set<Enforcement>(declaredBackend.enforces ?? []);
  const groups = new Set<ConformanceGroup>(options.groups ?? ["lifecycle", "detached", "enforcement"]);

  const context = (patch: Partial<BackendContext> = {}): TestContext => {
    const given = options.context?.() ?? {};
    return createTestContext({ cacheDir, ...given, ...patch, env: { ...given.env, ...patch.env } });
  };
  /** A spec of the base agent with `patch`, under a name of its own: each launch is a new bottle. */
  const agentWith = (patch: Partial<ResolvedAgent>): BottleSpec => testSpec({ ...baseAgent, workspace, ...patch });
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

  /** Each declared promise tried as an attack from inside the bottle; each undeclared one refused by core. */
  const describeEnforcement = () =>
    describe("what it declares it enforces", () => {
      const declared = (enforcement: Enforcement, name: string, body: () => Promise<void>) => {
        if (enforced.has(enforcement)) it(`${enforcement}: ${name}`, body, timeout);
      };

      declared("network.none", "a bottle without network has no interface but loopback", async () => {
        const { io } = await run({ ...ASKING["network.none"], command: ["sh", "-c", 'while read -r line; do case "$line" in *:*) echo "if:${line%%:*}";; esac; done < /proc/net/dev'] });
        const interfaces = io.stdout().split("\n").filter((line) => line.startsWith("if:"));
        expect(interfaces, shown("the bottle's network interfaces", io)).toEqual(["if:lo"]);
      });

      declared("mounts.readOnly", "an extra mount without readOnly: false cannot be written, nor a file added to it", async () => {
        const source = join(root, "read-only-mount");
        await mkdir(source, { recursive: true });
        await writeFile(join(source, "kept.txt"), "host");
        const { io } = await run({
          mounts: [{ source, target: "/conformance-ro", readOnly: true }],
          command: ["sh", "-c", "echo bottle > /conformance-ro/kept.txt; echo bottle > /conformance-ro/added.txt; cat /conformance-ro/kept.txt"],
        });
        expect(await readFile(join(source, "kept.txt"), "utf8"), shown("the host file after the bottle wrote to it", io)).toBe("host");
        expect(await stat(join(source, "added.txt")).then(() => "exists", () => "absent"), shown("a file the bottle tried to add", io)).toBe("absent");
      });

      declared("hostControls.readOnly", "git hooks, git config and .claude-bottle stay the host's, and .git cannot be swapped for the bottle's", async () => {
        const repository = join(root, "controls");
        await mkdir(repository, { recursive: true });
        await git(["init", "--quiet"], repository);
        const config = await readFile(join(repository, ".git", "config"), "utf8");
        const { io } = await run({
          workspace: repository,
          command: [
            "sh",
            "-c",
            [
              "echo 'touch /tmp/pwned' > .git/hooks/post-checkout",
              "printf '[core]\\n\\tfsmonitor = /tmp/pwned\\n' >> .git/config",
              "echo 'image: evil' > .claude-bottle/agents.yaml",
              // The parent of the controls: rename it, then write a git directory of the bottle's in its place.
              "mv .git .git.orig && mkdir -p .git/hooks && echo 'touch /tmp/pwned' > .git/hooks/post-checkout && echo '[core]' > .git/config",
              "true",
            ].join("; "),
          ],
        });
        const after = (path: string) => readFile(join(repository, path), "utf8").catch(() => "(absent)");
        expect(await after(".git/hooks/post-checkout"), shown("a hook the bottle wrote", io)).toBe("(absent)");
        expect(await after(".git/config"), shown("the git config after the bottle", io)).toBe(config);
        expect(await after(".claude-bottle/agents.yaml"), shown("an agent file the bottle wrote", io)).toBe("(absent)");
      });

      declared("limits.memory", "a bottle asked to stay under 48 MiB cannot hold 64 MiB", async () => {
        // Doubling a shell variable 26 times makes a 64 MiB string: the bottle must be stopped on the way.
        const { launched, io } = await run({ ...ASKING["limits.memory"], command: ["sh", "-c", 's=x; i=0; while [ $i -lt 26 ]; do s="$s$s"; i=$((i+1)); done; echo survived'] });
        expect(io.stdout(), shown("a 64 MiB string under a 48 MiB limit", io)).not.toContain("survived");
        expect(exitCode(launched, io), shown("the exit code of the bottle that ran out of memory", io)).not.toBe(0);
      });

      declared("limits.pids", "a bottle limited to 24 processes cannot start 64", async () => {
        const { io } = await run({ ...ASKING["limits.pids"], command: ["sh", "-c", "i=0; while [ $i -lt 64 ]; do sleep 5 & i=$((i+1)); done; echo forked:$i; kill $(jobs -p) 2>/dev/null"] });
        expect(io.stdout(), shown("64 processes under a limit of 24", io)).not.toContain("forked:64");
      });

      for (const enforcement of ENFORCEMENTS) {
        const asking = ASKING[enforcement];
        if (enforced.has(enforcement) || !asking) continue;
        it(`${enforcement}: not declared, so an agent asking for it is refused before prepare (POLICY_NOT_ENFORCED)`, async () => {
          await expectBottleError(backend.prepare(agentWith({ command: ["sh", "-c", "exit 0"], ...asking }), context()), ErrorCodes.POLICY_NOT_ENFORCED);
        }, timeout);
      }
    });

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

    if (groups.has("lifecycle")) {
      it("declares contract version 1, a name and known capabilities", async () => {
        expect(backend.apiVersion).toBe(1);
        expect(backend.name).toMatch(/^[a-z0-9][a-z0-9-]*$/);
      });

      it("prepare returns the spec it was given and this backend's name as `backend`", async () => {
        const spec = agentWith({ command: ["sh", "-c", "exit 0"] });
        const prepared: Prepared = await backend.prepare(spec, context());
        expect(prepared.backend).toBe(backend.name);
        expect(prepared.spec).toEqual(spec);
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

    }

    if (groups.has("detached")) {
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

          it("refuses another bottle under its name with NAME_CONFLICT, and leaves it running", async () => {
            const taken = await backend.prepare(testSpec({ ...baseAgent, workspace, command: ["sh", "-c", "exit 0"] }, { name: bottle.name }), bottle.ctx);
            await expectBottleError(backend.launch(taken, launchOptions(captureStdio(), { detach: true }), bottle.ctx), ErrorCodes.NAME_CONFLICT);
            if (has("list")) {
              const listed = (await requireCapability(backend, "list")(bottle.ctx)).find((b) => b.name === bottle.name);
              expect(listed?.state, `${bottle.name} after a launch under its name`).toBe("running");
            }
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
            it("restartProxy: leaves a running bottle running (UNSUPPORTED when it has no proxy)", async () => {
              await requireCapability(backend, "restartProxy")(bottle.name, {}, bottle.ctx).catch((error: unknown) => {
                if (!BottleError.isInstance(error) || error.code !== ErrorCodes.UNSUPPORTED) throw error;
              });
              if (has("list")) {
                const listed = (await requireCapability(backend, "list")(bottle.ctx)).find((b) => b.name === bottle.name);
                expect(listed?.state).toBe("running");
              }
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

        for (const operation of ["stop", "remove", "logs", "attach", "exec", "restartProxy"] as const) {
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
              restartProxy: () => requireCapability(backend, "restartProxy")(name, {}, ctx),
            }[operation];
            await expectBottleError(call(), ErrorCodes.BOTTLE_NOT_FOUND);
          }, timeout);
        }
      }

    }

    if (groups.has("lifecycle")) {
      if (has("doctor")) {
        it("doctor: reports checks instead of throwing", async () => {
          const checks = await requireCapability(backend, "doctor")(context());
          expect(checks.length, "doctor returned no checks").toBeGreaterThan(0);
          for (const check of checks) {
            expect(check).toEqual(expect.objectContaining({ name: expect.any(String), ok: expect.any(Boolean), detail: expect.any(String) }));
          }
        }, timeout);
      }
    }

    if (groups.has("enforcement")) describeEnforcement();
  });
}
