import { randomBytes } from "node:crypto";
import { homedir } from "node:os";
import { bottleName, type BottleSpec, type ResolvedAgent } from "@claude-bottle/core";
import { builtinCredentialNames, resolveBottleSpec } from "@claude-bottle/core/host";
import { builtinAgents } from "../builtin-agents.js";

/**
 * The spec of a new bottle of `agent`, as every command that starts one (or
 * approves one) makes it: a fresh name, the hard limits measured against this
 * user's home and environment, the credentials the built-in agents bind kept
 * from project agents.
 */
export function bottleSpecOf(
  agent: ResolvedAgent,
  env: Readonly<Record<string, string | undefined>>,
  flags: { allowHosts?: readonly string[]; applyFlags?: (agent: ResolvedAgent) => ResolvedAgent; name?: string } = {},
): BottleSpec {
  return resolveBottleSpec(agent, {
    name: flags.name ?? bottleName(agent.slug, randomBytes(3).toString("hex")),
    host: { home: homedir(), env, uid: process.getuid?.(), credentialNames: builtinCredentialNames(builtinAgents()) },
    ...(flags.allowHosts?.length ? { allowHosts: flags.allowHosts } : {}),
    ...(flags.applyFlags ? { applyFlags: flags.applyFlags } : {}),
  });
}
