import { lstat, readFile, readdir, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import type { Logger } from "../context.js";
import { BottleError, ErrorCodes } from "../errors.js";
import { hostServicesOf } from "./host-services.js";
import { networkPolicyOf } from "./network.js";
import { publishedPortsOf } from "./ports.js";
import { effectiveResources } from "./resources.js";
import { resolveIsolation } from "./isolation.js";
import { readUserConfig } from "./user-config.js";
import type { AgentOrigin, EnvEntry, ResolvedAgent } from "./model.js";
import { agentSchema, parseMemory, SLUG_PATTERN, type AgentFile } from "./schema.js";
import { firstViolation, type SchemaViolation } from "./validate.js";

/** A built-in agent: a recipe shipped in code, with `dir` standing in for the file's directory. */
export interface BuiltinAgent {
  slug: string;
  dir: string;
  recipe: AgentFile;
}

export interface AgentSearchOptions {
  /** Where start runs: the project's agents are found walking up from here. */
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  builtins: readonly BuiltinAgent[];
  /** Overrides the home directory (tests). */
  home?: string;
  /** The user project files must belong to; default the process's. `null`: no ownership check (tests, Windows). */
  uid?: number | null;
  /** Says, at debug level, which project files were skipped and why. */
  logger?: Logger;
}

/** One agent as `claude-bottle agents` lists it. */
export interface AgentListing {
  slug: string;
  origin: AgentOrigin;
  /** The file it comes from; the built-in's directory for built-ins. */
  location: string;
  description?: string;
  /** Set when the file does not validate; the agent cannot start. */
  error?: BottleError;
  /** Lower-precedence definitions this one hides. */
  shadows: AgentOrigin[];
}

const AGENT_FILE = /^([a-z0-9]+(?:-[a-z0-9]+)*)\.ya?ml$/;

export function assertSlug(slug: string): void {
  if (!SLUG_PATTERN.test(slug)) {
    throw new BottleError(ErrorCodes.INVALID_ARGUMENT, `"${slug}" is not a valid agent name.`, {
      hint: "Agent names use lowercase letters, digits and single dashes, like my-agent.",
    });
  }
}

/** Where a project's agents were found: `root` holds `.claude-bottle/agents`. */
export interface ProjectLocation {
  root: string;
  agentsDir: string;
}

/**
 * The project's agents, walking up from cwd to the nearest `.claude-bottle/agents`.
 * The walk stops at the repository root (a directory holding `.git`) or below
 * the home directory, whichever comes first, so a clone nested in another
 * project, or a stray file in a parent directory, is never read. Like git's
 * `safe.directory`, directories and files that are not the user's or that
 * others may write are skipped (said with --debug).
 */
export async function findProject(options: Pick<AgentSearchOptions, "cwd" | "home" | "uid" | "logger">): Promise<ProjectLocation | undefined> {
  const home = resolve(options.home ?? homedir());
  const uid = expectedOwner(options);
  let dir = resolve(options.cwd);
  for (;;) {
    if (dir === home) return undefined;
    const dotDir = join(dir, ".claude-bottle");
    const agentsDir = join(dotDir, "agents");
    if ((await isDirectory(agentsDir)) && (await isSafe(dotDir, uid, options.logger)) && (await isSafe(agentsDir, uid, options.logger))) {
      return { root: dir, agentsDir };
    }
    const parent = dirname(dir);
    if (parent === dir || (await exists(join(dir, ".git")))) return undefined;
    dir = parent;
  }
}

/** The project's agents folder (see findProject). */
export async function findProjectAgentsDir(cwd: string): Promise<string | undefined> {
  return (await findProject({ cwd }))?.agentsDir;
}

export function userAgentsDir(env: AgentSearchOptions["env"], home = homedir()): string {
  const configHome = env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(home, ".config");
  return join(configHome, "claude-bottle", "agents");
}

interface Candidate {
  slug: string;
  origin: AgentOrigin;
  file?: string;
  builtin?: BuiltinAgent;
  /** For a project's agent: the directory holding `.claude-bottle`. */
  projectRoot?: string;
}

async function candidates(options: AgentSearchOptions): Promise<Candidate[]> {
  const found: Candidate[] = [];
  const project = await findProject(options);
  const uid = expectedOwner(options);
  for (const entry of project ? await readdirOrEmpty(project.agentsDir) : []) {
    const match = AGENT_FILE.exec(entry);
    const file = join(project!.agentsDir, entry);
    if (match && (await isSafe(file, uid, options.logger))) {
      found.push({ slug: match[1]!, origin: "project", file, projectRoot: project!.root });
    }
  }
  const userDir = userAgentsDir(options.env, options.home);
  for (const entry of await readdirOrEmpty(userDir)) {
    const match = AGENT_FILE.exec(entry);
    if (match) found.push({ slug: match[1]!, origin: "user", file: join(userDir, entry) });
  }
  for (const builtin of options.builtins) found.push({ slug: builtin.slug, origin: "builtin", builtin });
  return found;
}

/** Every agent, project over user over built-in, with invalid files reported instead of thrown. */
export async function listAgents(options: AgentSearchOptions): Promise<AgentListing[]> {
  const bySlug = new Map<string, AgentListing>();
  for (const candidate of await candidates(options)) {
    const existing = bySlug.get(candidate.slug);
    if (existing) {
      existing.shadows.push(candidate.origin);
      continue;
    }
    const listing: AgentListing = {
      slug: candidate.slug,
      origin: candidate.origin,
      location: candidate.file ?? candidate.builtin!.dir,
      shadows: [],
    };
    try {
      const recipe = await readRecipe(candidate);
      if (recipe.description) listing.description = recipe.description;
    } catch (error) {
      if (!BottleError.isInstance(error)) throw error;
      listing.error = error;
    }
    bySlug.set(candidate.slug, listing);
  }
  return [...bySlug.values()].sort((a, b) => a.slug.localeCompare(b.slug));
}

/** The agent named `slug`, resolved against the cwd; an error lists the agents found when there is none. */
export async function resolveAgent(slug: string, options: AgentSearchOptions): Promise<ResolvedAgent> {
  assertSlug(slug);
  const all = await candidates(options);
  const candidate = all.find((c) => c.slug === slug);
  if (!candidate) {
    const names = [...new Set(all.map((c) => c.slug))].sort();
    throw new BottleError(ErrorCodes.AGENT_NOT_FOUND, `No agent named "${slug}".`, {
      hint: names.length
        ? `Agents found: ${names.join(", ")}. Add one as .claude-bottle/agents/${slug}.yaml.`
        : `Add one as .claude-bottle/agents/${slug}.yaml.`,
    });
  }
  const recipe = await readRecipe(candidate);
  const agent = normalize(candidate, recipe, options);
  const shadows = all.filter((c) => c.slug === slug && c !== candidate).map((c) => c.origin);
  if (shadows.length) agent.shadows = shadows;
  if (candidate.projectRoot) agent.projectRoot = candidate.projectRoot;
  const isolation = resolveIsolation(recipe.isolation, candidate.origin, (await readUserConfig(options.env, options.home)).isolation);
  if (isolation) agent.isolation = isolation;
  return agent;
}

/** The variables the built-in agents bind as credentials: what `claude-bottle login` keeps for them (HostFacts.credentialNames). */
export function builtinCredentialNames(builtins: readonly BuiltinAgent[]): string[] {
  return builtins.flatMap((builtin) => (builtin.recipe.credentials ?? []).map((credential) => credential.env));
}

async function readRecipe(candidate: Candidate): Promise<AgentFile> {
  if (candidate.builtin) return candidate.builtin.recipe;
  const file = candidate.file!;
  // Loaded here, not at the top: commands that read no agent file (ls, stop, a built-in agent) never pay for it.
  const yaml = await import("js-yaml");
  let data: unknown;
  try {
    data = yaml.load(await readFile(file, "utf8"));
  } catch (error) {
    const detail =
      error instanceof yaml.YAMLException
        ? `${error.reason} (line ${error.mark.line + 1}, column ${error.mark.column + 1})`
        : String(error);
    throw new BottleError(ErrorCodes.AGENT_INVALID, `${file}: not valid YAML: ${detail}`, {
      hint: "Fix the syntax; the JSON Schema in @claude-bottle/core/agent.schema.json helps editors check it.",
      cause: error,
    });
  }
  return validateRecipe(data ?? {}, file);
}

/** Validates parsed agent data; the error names the file, the field and what was expected. */
export function validateRecipe(data: unknown, file: string): AgentFile {
  const violation = firstViolation(data, agentSchema);
  if (violation) {
    throw new BottleError(ErrorCodes.AGENT_INVALID, `${file}: ${describeViolation(violation)}`, {
      hint: "See the agent file format in the claude-bottle README.",
    });
  }
  const recipe = data as AgentFile;
  if (recipe.build && recipe.image) {
    throw new BottleError(ErrorCodes.AGENT_INVALID, `${file}: has both "build" and "image"; give one of them.`);
  }
  if (!recipe.build && !recipe.image) {
    throw new BottleError(ErrorCodes.AGENT_INVALID, `${file}: needs "build" (a Dockerfile) or "image" (a ready image).`);
  }
  for (const [index, credential] of (recipe.credentials ?? []).entries()) {
    if (recipe.network === false) {
      throw new BottleError(ErrorCodes.AGENT_INVALID, `${file}: field "credentials.${index}": a credential needs network; this agent has none.`);
    }
    if ((recipe.env ?? []).some((entry) => entry.split("=")[0] === credential.env)) {
      throw new BottleError(ErrorCodes.AGENT_INVALID, `${file}: field "credentials.${index}": ${credential.env} is also in env, where the bottle would hold its value.`, {
        hint: `Remove ${credential.env} from env: the credential binding gives the bottle a placeholder and the proxy the value.`,
      });
    }
  }
  const invalid = (field: string) => (index: number, problem: string): never => {
    throw new BottleError(ErrorCodes.AGENT_INVALID, `${file}: field "${field}.${index}": ${problem}.`);
  };
  publishedPortsOf(recipe.ports ?? [], invalid("ports"));
  if (typeof recipe.network === "object") hostServicesOf(recipe.network.host ?? [], invalid("network.host"));
  return recipe;
}

function describeViolation({ path, message }: SchemaViolation): string {
  const field = path.map(String).join(".");
  if (message.startsWith("unknown field")) return field ? `${message} in "${field}"` : message;
  return `field "${field || "(top level)"}": ${message}`;
}

function normalize(candidate: Candidate, recipe: AgentFile, options: AgentSearchOptions): ResolvedAgent {
  const baseDir = candidate.builtin?.dir ?? dirname(candidate.file!);
  const home = options.home ?? homedir();
  const hostPath = (path: string) =>
    resolve(options.cwd, path === "~" ? home : path.startsWith("~/") ? join(home, path.slice(2)) : path);
  const egress = networkPolicyOf(recipe.network);
  // Checked by validateRecipe already: nothing here fails.
  const unreachable = (): never => {
    throw new Error("unreachable");
  };
  const ports = publishedPortsOf(recipe.ports ?? [], unreachable);
  const hostServices = typeof recipe.network === "object" ? hostServicesOf(recipe.network.host ?? [], unreachable) : [];
  const agent: ResolvedAgent = {
    slug: candidate.slug,
    origin: candidate.origin,
    image: recipe.build
      ? {
          kind: "build",
          dockerfile: resolve(baseDir, recipe.build.dockerfile ?? "Dockerfile"),
          context: resolve(baseDir, recipe.build.context ?? "."),
          args: recipe.build.args ?? {},
        }
      : { kind: "ref", ref: recipe.image! },
    args: recipe.args ?? [],
    workspace: hostPath(recipe.workspace ?? "."),
    // Read-only unless the file says otherwise: an extra mount is for reading config, rarely for writing back.
    mounts: (recipe.mounts ?? []).map((m) => ({ source: hostPath(m.source), target: m.target, readOnly: m.readOnly ?? true })),
    env: (recipe.env ?? []).map(parseEnvEntry),
    network: egress !== undefined,
    ...(egress && { egress }),
    ...(recipe.credentials?.length && { credentials: recipe.credentials.map((c) => ({ env: c.env, hosts: [...c.hosts] })) }),
    resources: effectiveResources({
      ...(recipe.resources?.cpus !== undefined && { cpus: recipe.resources.cpus }),
      ...(recipe.resources?.memory !== undefined && { memory: parseMemory(recipe.resources.memory) }),
      ...(recipe.resources?.pids !== undefined && { pids: recipe.resources.pids }),
    }),
    ...(ports.length && { ports }),
    ...(hostServices.length && { hostServices }),
  };
  if (recipe.description) agent.description = recipe.description;
  if (candidate.file) agent.file = candidate.file;
  if (recipe.command) agent.command = recipe.command;
  return agent;
}

function parseEnvEntry(entry: string): EnvEntry {
  const eq = entry.indexOf("=");
  return eq === -1
    ? { name: entry, passthrough: true }
    : { name: entry.slice(0, eq), passthrough: false, value: entry.slice(eq + 1) };
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

function expectedOwner(options: Pick<AgentSearchOptions, "uid">): number | undefined {
  return options.uid === undefined ? process.getuid?.() : (options.uid ?? undefined);
}

/**
 * A project path claude-bottle may read: the user's own (root's files are
 * fine too when running as root) and not writable by others.
 */
async function isSafe(path: string, uid: number | undefined, logger: Logger | undefined): Promise<boolean> {
  let info;
  try {
    info = await stat(path);
  } catch {
    return false;
  }
  if (uid !== undefined && info.uid !== uid) {
    logger?.debug(`skipping ${path}: it belongs to user ${info.uid}, not to you (${uid})`);
    return false;
  }
  if ((info.mode & 0o002) !== 0) {
    logger?.debug(`skipping ${path}: anyone on this machine may write it (mode ${(info.mode & 0o777).toString(8)})`);
    return false;
  }
  return true;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}
