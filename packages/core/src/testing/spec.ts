import { randomBytes } from "node:crypto";
import { homedir } from "node:os";
import type { ResolvedAgent } from "../agent/model.js";
import { bottleName } from "../labels.js";
import type { BottleSpec } from "../spec/bottle-spec.js";
import { resolveBottleSpec, type BottleSpecInput } from "../spec/resolve-bottle-spec.js";

/**
 * The spec a start would give the backend for `agent`, for tests that drive a
 * backend directly: a fresh bottle name, the hard limits checked against this
 * host as the CLI checks them.
 */
export function testSpec(agent: ResolvedAgent, input: Partial<BottleSpecInput> = {}): BottleSpec {
  return resolveBottleSpec(agent, {
    name: input.name ?? bottleName(agent.slug, randomBytes(3).toString("hex")),
    host: input.host ?? { home: homedir(), env: process.env, uid: process.getuid?.() },
    ...(input.allowHosts ? { allowHosts: input.allowHosts } : {}),
  });
}
