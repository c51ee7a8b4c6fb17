import { describe, expect, it } from "vitest";
import type { Backend, Enforcement } from "@claude-bottle/core";
import { describeBackendConformance, type VitestApi } from "@claude-bottle/core/testing";
import { createBubblewrapBackend } from "../src/index.js";
import { hostAgent, hostEnv } from "./fixtures.js";

interface Collected {
  name: string;
  body: () => Promise<void>;
}

/**
 * Runs the conformance suite's enforcement group outside vitest's own
 * collection, keeping each test's outcome, so this file can show that a test
 * of the suite fails rather than only that it passes.
 */
async function runEnforcementGroup(backend: Backend): Promise<Map<string, "passed" | string>> {
  const tests: Collected[] = [];
  const before: (() => Promise<void> | void)[] = [];
  const after: (() => Promise<void> | void)[] = [];
  const prefix: string[] = [];
  const api: VitestApi = {
    describe: (name, body) => {
      prefix.push(name);
      body();
      prefix.pop();
    },
    it: (name, body) => tests.push({ name: [...prefix, name].join(" > "), body }),
    beforeAll: (body) => void before.push(body),
    afterAll: (body) => void after.push(body),
    expect,
  };
  describeBackendConformance(api, { factory: () => backend, agent: () => hostAgent(), context: () => ({ env: hostEnv }), groups: ["enforcement"] });
  const outcomes = new Map<string, "passed" | string>();
  for (const hook of before) await hook();
  try {
    for (const test of tests) {
      outcomes.set(
        test.name.replace(/^backend conformance > what it declares it enforces > /, ""),
        await test.body().then(
          () => "passed" as const,
          (error: unknown) => (error instanceof Error ? error.message : String(error)),
        ),
      );
    }
  } finally {
    for (const hook of after) await hook();
  }
  return outcomes;
}

/** The bubblewrap backend claiming limits it does not set. */
function liar(claims: readonly Enforcement[]): Backend {
  const honest = createBubblewrapBackend();
  return { ...honest, enforces: [...honest.enforces, ...claims] };
}

describe("the conformance suite's enforcement group", () => {
  it("fails a backend that declares limits it does not keep, and passes the honest one", async () => {
    const lying = await runEnforcementGroup(liar(["limits.pids", "limits.memory"]));
    expect(lying.get("limits.pids: a bottle limited to 24 processes cannot start 64")).toContain("64 processes under a limit of 24");
    expect(lying.get("limits.memory: a bottle asked to stay under 48 MiB cannot hold 64 MiB")).toContain("a 64 MiB string under a 48 MiB limit");

    const honest = await runEnforcementGroup(createBubblewrapBackend());
    expect(Object.fromEntries(honest)).toEqual({
      "network.none: a bottle without network has no interface but loopback": "passed",
      "mounts.readOnly: an extra mount without readOnly: false cannot be written, nor a file added to it": "passed",
      "hostControls.readOnly: git hooks, git config and .claude-bottle stay the host's, and .git cannot be swapped for the bottle's": "passed",
      ...Object.fromEntries(
        ["egress.allow", "egress.deny", "egress.ports", "egress.allowPrivate", "credentials", "limits.cpus", "limits.memory", "limits.pids", "ports.publish", "egress.host"].map((e) => [
          `${e}: not declared, so an agent asking for it is refused before prepare (POLICY_NOT_ENFORCED)`,
          "passed",
        ]),
      ),
    });
  }, 120_000);
});
