import { BottleError, ErrorCodes, type ResolvedAgent } from "@claude-bottle/core";
import { widenNetworkPolicy } from "@claude-bottle/core/host";

/** Where a GitHub token goes: git over HTTPS (github.com) and the API gh and the agents call (api.github.com). */
export const GITHUB_HOSTS = ["github.com", "api.github.com"] as const;
/** The variables gh reads its token from (GH_TOKEN first), and the one `login github` stores. */
export const GITHUB_VARIABLES = ["GH_TOKEN", "GITHUB_TOKEN"] as const;
export const GITHUB_LOGIN_VARIABLE = "GITHUB_TOKEN";

/**
 * `start --github`: the agent binds a GitHub token for this run. The bottle
 * holds a placeholder in GH_TOKEN and GITHUB_TOKEN (whichever has a value,
 * from the environment or `login github`); the proxy writes the token only
 * into requests to GITHUB_HOSTS, in a `token`/`Bearer` header for gh and
 * inside git's `Basic` one for a push. The hosts join the allow-list, and
 * the plan shows the binding like any other. Opt-in: an agent that can push
 * can publish what it read.
 */
export function withGithubCredential(agent: ResolvedAgent, asked: boolean): ResolvedAgent {
  if (!asked) return agent;
  for (const name of GITHUB_VARIABLES) {
    if (agent.env.some((entry) => entry.name === name)) {
      throw new BottleError(ErrorCodes.AGENT_INVALID, `start --github binds ${name}, and the agent "${agent.slug}" passes ${name} in env, where the bottle would hold its value.`, {
        hint: `Remove ${name} from the agent's env; --github gives the bottle a placeholder for it.`,
      });
    }
  }
  const bound = new Set((agent.credentials ?? []).map((c) => c.env));
  const credentials = [...(agent.credentials ?? []), ...GITHUB_VARIABLES.filter((name) => !bound.has(name)).map((env) => ({ env, hosts: [...GITHUB_HOSTS] }))];
  return { ...agent, network: true, egress: widenNetworkPolicy(agent.network ? agent.egress : undefined, GITHUB_HOSTS)!, credentials };
}

/** After the stored values are read: a `--github` start with no token anywhere stops, saying how to give one. */
export function requireGithubToken(env: Readonly<Record<string, string | undefined>>, asked: boolean): void {
  if (!asked || GITHUB_VARIABLES.some((name) => env[name])) return;
  throw new BottleError(ErrorCodes.ENV_NOT_SET, "start --github needs a GitHub token, and neither GH_TOKEN nor GITHUB_TOKEN is set here or stored.", {
    hint: "Store one for every project: claude-bottle login github (or set GITHUB_TOKEN in your environment).",
  });
}
