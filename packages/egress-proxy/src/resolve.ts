/**
 * Resolve and vet: the proxy resolves a name itself (reusing an answer for a few
 * seconds), refuses it when any address is
 * in a blocked range (a name that resolves to a private address is DNS rebinding),
 * and hands on exactly the addresses it vetted, which are the only ones dialled.
 */
import dns from "node:dns";
import { isIP } from "node:net";
import { formatAuthority } from "@claude-bottle/core/egress-policy";
import type { AddressGuard } from "./addresses.js";
import type { Refusal } from "./policy.js";

/** The shape of `dns.lookup` with `{ all: true }`; inject one to control resolution in tests. */
export type LookupFunction = (
  hostname: string,
  options: dns.LookupAllOptions,
  callback: (err: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void,
) => void;

export interface VettedAddress {
  address: string;
  family: 4 | 6;
}

export type Vetted = { ok: true; addresses: VettedAddress[] } | ({ ok: false } & Refusal);

/** Resolves a name to all its addresses. */
export type Resolver = (host: string) => Promise<dns.LookupAddress[]>;

export function lookupAll(lookup: LookupFunction): Resolver {
  return (host) =>
    new Promise((resolve, reject) => {
      lookup(host, { all: true, hints: dns.ADDRCONFIG }, (err, addresses) => (err ? reject(err) : resolve(addresses)));
    });
}

/**
 * Keeps what a name resolved to for `ttlMs` (by the clock `nowMs`), and shares one
 * lookup among concurrent requests for a name. `dns.lookup` goes through libuv's
 * thread pool, which costs more than the rest of a CONNECT on a busy host. Failures
 * are not kept. Every answer, kept or fresh, is vetted again on each request.
 */
export function cachedResolver(resolve: Resolver, ttlMs: number, nowMs: () => number): Resolver {
  if (ttlMs <= 0) return resolve;
  const kept = new Map<string, { until: number; answer: Promise<dns.LookupAddress[]> }>();
  return (host) => {
    const now = nowMs();
    const hit = kept.get(host);
    if (hit && hit.until > now) return hit.answer;
    if (kept.size > 1000) for (const [name, entry] of kept) if (entry.until <= now) kept.delete(name);
    const answer = resolve(host);
    const entry = { until: now + ttlMs, answer };
    kept.set(host, entry);
    answer.catch(() => {
      if (kept.get(host) === entry) kept.delete(host);
    });
    return answer;
  };
}

/**
 * Resolves `host` (already normalised; an IP literal is taken as it is) and checks
 * every address against the guard. `suffix` names the policy for messages.
 */
export async function resolveAndVet(
  host: string,
  port: number,
  guard: AddressGuard,
  resolve: Resolver,
  suffix: string,
): Promise<Vetted> {
  const where = formatAuthority(host, port);
  const literal = isIP(host);
  if (literal !== 0) {
    const blocked = guard.check(host);
    if (blocked) {
      return { ok: false, reason: "blocked-address", detail: `${where} is ${describe(blocked)} ${suffix}` };
    }
    return { ok: true, addresses: [{ address: host, family: literal as 4 | 6 }] };
  }
  let found: dns.LookupAddress[];
  try {
    found = await resolve(host);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    return { ok: false, reason: "resolve-failed", detail: `${where} could not be resolved (${code}) ${suffix}` };
  }
  if (found.length === 0) {
    return { ok: false, reason: "resolve-failed", detail: `${where} could not be resolved (no addresses) ${suffix}` };
  }
  for (const { address } of found) {
    const blocked = guard.check(address);
    if (blocked) {
      return { ok: false, reason: "blocked-address", detail: `${where} resolves to ${address}, ${describe(blocked)} ${suffix}` };
    }
  }
  return { ok: true, addresses: found.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 })) };
}

function describe(blocked: { cidr: string; label: string }): string {
  return blocked.cidr === "" ? blocked.label : `${blocked.label} in ${blocked.cidr}`;
}
