import { BottleError, ErrorCodes, abortedError } from "@claude-bottle/core";
import { resolveAgent } from "@claude-bottle/core/host";
import { bottleSpecOf } from "../bottles/spec.js";
import { builtinAgents } from "../builtin-agents.js";
import { withSession, type CommandEnvironment, type Session } from "../context.js";
import { askSecret } from "../credentials/ask.js";
import { GITHUB_LOGIN_VARIABLE } from "../credentials/github.js";
import { credentialNames, openCredentialStore } from "../credentials/store.js";
import { ExitCodes } from "../exit-codes.js";

/** The variables Claude Code reads its credential from: an API key, or the long-lived token of `claude setup-token`. */
const CLAUDE_API_KEY = "ANTHROPIC_API_KEY";
const CLAUDE_OAUTH_TOKEN = "CLAUDE_CODE_OAUTH_TOKEN";
/** What `claude setup-token` prints at its end. */
const OAUTH_TOKEN = /sk-ant-oat01-[A-Za-z0-9_-]{20,}/;

export interface LoginOptions {
  /** Read an API key (claude) from stdin instead of running Claude Code's own token flow. */
  apiKey: boolean;
}

/**
 * `login [agent]`: keeps the agent's credentials on the host (keychain, else
 * a 0600 file), so every project's bottles use them with no login per
 * project. For `claude`: Claude Code's own long-lived-token flow
 * (`claude setup-token`) in a bottle of the built-in agent, or, with
 * --api-key, a key pasted on stdin. For `github`: the token `start
 * --github` binds, from stdin. For another agent: a value for each of its
 * credentials, from stdin.
 */
export async function login(environment: CommandEnvironment, slug: string, options: LoginOptions): Promise<number> {
  return withSession(environment, {}, async (session) => {
    const store = await openCredentialStore(session.context.env);
    if (slug === "claude" && options.apiKey) {
      const key = await askSecret("Paste your Anthropic API key (it is not shown): ");
      if (!key) throw new BottleError(ErrorCodes.INVALID_ARGUMENT, "No API key was given.", { hint: "Paste it at the prompt, or pipe it: claude-bottle login --api-key < key-file" });
      await store.set(CLAUDE_API_KEY, key);
      process.stdout.write(`Stored ${CLAUDE_API_KEY} in ${store.description}.\n`);
      return ExitCodes.OK;
    }
    if (slug === "github") {
      const token = await askSecret("Paste a GitHub token for start --github (it is not shown): ");
      if (!token) throw new BottleError(ErrorCodes.INVALID_ARGUMENT, "No token was given; nothing was stored.", { hint: "Paste it at the prompt, or pipe it: gh auth token | claude-bottle login github" });
      await store.set(GITHUB_LOGIN_VARIABLE, token);
      process.stdout.write(`Stored ${GITHUB_LOGIN_VARIABLE} in ${store.description}; start --github binds it.\n`);
      return ExitCodes.OK;
    }
    if (slug === "claude") {
      const token = await claudeSetupToken(session);
      await store.set(CLAUDE_OAUTH_TOKEN, token);
      process.stdout.write(`Stored ${CLAUDE_OAUTH_TOKEN} in ${store.description}.\n`);
      return ExitCodes.OK;
    }
    const agent = await resolveAgent(slug, { cwd: session.context.cwd, env: session.context.env, builtins: builtinAgents() });
    const names = credentialNames(agent);
    if (!names.length) {
      throw new BottleError(ErrorCodes.INVALID_ARGUMENT, `The agent "${slug}" declares no credentials.`, {
        hint: "Add `credentials: [{ env: NAME, hosts: [...] }]` to its agent file.",
      });
    }
    for (const name of names) {
      const value = await askSecret(`${name} for ${slug} (it is not shown): `);
      if (!value) throw new BottleError(ErrorCodes.INVALID_ARGUMENT, `No value was given for ${name}; nothing was stored.`);
      await store.set(name, value);
    }
    process.stdout.write(`Stored ${names.join(", ")} in ${store.description}.\n`);
    return ExitCodes.OK;
  });
}

/** `logout [agent]`: removes the stored credentials of one agent, or all of them. */
export async function logout(environment: CommandEnvironment, slug: string | undefined): Promise<number> {
  return withSession(environment, {}, async (session) => {
    const store = await openCredentialStore(session.context.env);
    let names: string[] | undefined;
    if (slug === "claude") names = [CLAUDE_API_KEY, CLAUDE_OAUTH_TOKEN];
    else if (slug === "github") names = [GITHUB_LOGIN_VARIABLE];
    else if (slug) names = credentialNames(await resolveAgent(slug, { cwd: session.context.cwd, env: session.context.env, builtins: builtinAgents() }));
    const removed = await store.delete(names);
    process.stdout.write(removed.length ? `Removed ${removed.join(", ")} from ${store.description}.\n` : "No stored credentials to remove.\n");
    return ExitCodes.OK;
  });
}

/**
 * Runs `claude setup-token` attached, in a bottle of the built-in agent, on
 * the user's terminal (the flow opens a browser and asks for a code), and
 * picks the token out of what it prints on the way to the screen.
 */
async function claudeSetupToken(session: Session): Promise<string> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new BottleError(ErrorCodes.INVALID_ARGUMENT, "Claude Code's login flow needs a terminal.", {
      hint: "Run it on a terminal, or store an API key instead: claude-bottle login --api-key < key-file",
    });
  }
  // A backend from the project runs here only once approved, as for every other command.
  const { loadSelectedBackend } = await import("../select-backend.js");
  const { backend } = await loadSelectedBackend(session);
  const agent = await resolveAgent("claude", { cwd: session.context.cwd, env: session.context.env, builtins: builtinAgents().filter((b) => b.slug === "claude") });
  let seen = "";
  const stdout = Object.create(process.stdout) as NodeJS.WriteStream;
  stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    seen = (seen + (typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"))).slice(-8192);
    return (process.stdout.write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as NodeJS.WriteStream["write"];
  const prepared = await backend.prepare(bottleSpecOf({ ...agent, args: ["setup-token"] }, session.context.env), session.context);
  const launched = await backend.launch(prepared, { extraArgs: [], detach: false, stdio: { stdin: process.stdin, stdout, stderr: process.stderr } }, session.context);
  if (session.context.signal.aborted) throw abortedError();
  const token = OAUTH_TOKEN.exec(seen.replace(/\s+/g, ""))?.[0];
  if (!token || (!launched.detached && launched.exitCode !== 0)) {
    throw new BottleError(ErrorCodes.INVALID_ARGUMENT, "Claude Code's login flow ended without a token; nothing was stored.", {
      hint: "Try again, or store an API key instead: claude-bottle login --api-key",
    });
  }
  return token;
}
