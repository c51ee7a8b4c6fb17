/**
 * Where a bottle may connect, by host name (SECURITY.md point 3). Entries are
 * exact names or `*.domain` (subdomains, not the apex), each with an optional
 * `:port`. Private, loopback and link-local addresses (cloud metadata among
 * them) are always refused, also for a name that resolves to one, unless a
 * user's own agent file lists a CIDR in `allowPrivate`.
 */
export type NetworkPolicy =
  | { mode: "all"; deny: readonly string[]; allowPrivate: readonly string[] }
  | { mode: "allow"; allow: readonly string[]; deny: readonly string[]; allowPrivate: readonly string[] };

/**
 * What the built-in `claude` agent may reach: Claude Code's own services, and
 * the registries and forge an agent needs for ordinary work. Widen it in your
 * own agent file, or for one run with `start --allow-host`.
 */
export const CLAUDE_CODE_HOSTS: readonly string[] = [
  "api.anthropic.com",
  "statsig.anthropic.com",
  "console.anthropic.com",
  "claude.ai",
  "statsig.com",
  "sentry.io",
  "*.sentry.io",
  "registry.npmjs.org",
  "pypi.org",
  "files.pythonhosted.org",
  "github.com",
  "*.github.com",
  "*.githubusercontent.com",
];

/** The agent file's `network:` as a policy; undefined means no network at all. */
export function networkPolicyOf(
  network: boolean | { allow?: string[]; deny?: string[]; allowPrivate?: string[] } | undefined,
): NetworkPolicy | undefined {
  if (network === false) return undefined;
  if (network === undefined || network === true) return { mode: "all", deny: [], allowPrivate: [] };
  const rest = { deny: [...(network.deny ?? [])], allowPrivate: [...(network.allowPrivate ?? [])] };
  // Without `allow`, the mapping narrows `true`: everything but what it denies.
  return network.allow === undefined ? { mode: "all", ...rest } : { mode: "allow", allow: [...network.allow], ...rest };
}

/**
 * The policy widened for one run by `start --allow-host`: the hosts join an
 * allow-list, and a bottle without network gets only them.
 */
export function widenNetworkPolicy(policy: NetworkPolicy | undefined, hosts: readonly string[]): NetworkPolicy | undefined {
  if (!hosts.length) return policy;
  if (!policy) return { mode: "allow", allow: [...hosts], deny: [], allowPrivate: [] };
  if (policy.mode === "all") return policy;
  return { ...policy, allow: [...new Set([...policy.allow, ...hosts])] };
}
