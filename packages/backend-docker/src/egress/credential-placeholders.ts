import { randomBytes } from "node:crypto";
import type { BottleSpec } from "@claude-bottle/core";
import type { ProxyCredentials } from "./sidecar.js";

/**
 * The credentials of a spec whose values are set (here, or by `login`): a
 * placeholder each, and a CA for the bottle made now, which only the proxy
 * ever holds the key of. Undefined when there is nothing to inject.
 */
export async function proxyCredentials(spec: Pick<BottleSpec, "slug" | "credentials">, env: Readonly<Record<string, string | undefined>>): Promise<ProxyCredentials | undefined> {
  const bindings = spec.credentials.filter((c) => env[c.env]);
  if (!bindings.length) return undefined;
  // Loaded only here: the CA maker is not needed by a bottle without credentials.
  const { createBottleCa } = await import("@claude-bottle/egress-proxy");
  const hosts = [...new Set(bindings.flatMap((b) => b.hosts))];
  return {
    bindings: bindings.map((b) => ({ env: b.env, hosts: [...b.hosts], placeholder: placeholderFor(env[b.env]!) })),
    values: Object.fromEntries(bindings.map((b) => [b.env, env[b.env]!])),
    ca: createBottleCa({ hosts, label: `claude-bottle ${spec.slug}` }),
  };
}

/**
 * A placeholder shaped like the value where that matters: an Anthropic key's
 * prefix (`sk-ant-api03-`) is kept so a client's own format check passes; the
 * rest is random, so it never matches anything but itself.
 */
function placeholderFor(value: string): string {
  const prefix = /^(sk-ant-[a-z0-9]+-)/.exec(value)?.[1] ?? "";
  return `${prefix}claude-bottle-placeholder-${randomBytes(16).toString("hex")}`;
}

