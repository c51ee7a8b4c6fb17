import { createHash } from "node:crypto";
import { lstat, readFile, readdir, readlink } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import type { Readable } from "node:stream";
import type dockerignore from "@balena/dockerignore";

type IgnoreFactory = typeof dockerignore.default;

/**
 * The matcher for `.dockerignore` patterns; nothing to load when there are
 * none, the usual case for an agent's context, which keeps ~10 ms off a warm start.
 */
async function matcherFor(patterns: string[]): Promise<{ ignores(path: string): boolean }> {
  if (patterns.length === 0) return { ignores: () => false };
  const loaded = await import("@balena/dockerignore");
  // The package is CommonJS with `module.exports = factory`, typed as a default
  // export: Node hands ESM the factory itself, TypeScript expects it on `.default`.
  const ignore = ((loaded.default as unknown as { default?: IgnoreFactory }).default ?? loaded.default) as IgnoreFactory;
  return ignore().add(patterns);
}

/**
 * The name the Dockerfile gets inside the build context when it lives outside
 * the context or is itself excluded by `.dockerignore`.
 */
const GENERATED_DOCKERFILE = ".claude-bottle.Dockerfile";

/** A build context after `.dockerignore`: what is sent to the engine and hashed. */
export interface BuildContext {
  /** Absolute context directory. */
  root: string;
  /** Relative POSIX paths of the directories and files sent, sorted. */
  entries: string[];
  /** The Dockerfile's name inside the context, as the build request names it. */
  dockerfileName: string;
  dockerfileText: string;
  /** Set when the Dockerfile is added to the context under GENERATED_DOCKERFILE. */
  generated?: { dockerignoreText: string };
}

/**
 * Lists the context the way the docker CLI does: `.dockerignore` at the
 * context root applies, an excluded directory is skipped unless an exception
 * (`!pattern`) may re-include something inside it.
 */
export async function readBuildContext(contextDir: string, dockerfile: string): Promise<BuildContext> {
  const dockerignoreText = await readFile(join(contextDir, ".dockerignore"), "utf8").catch(() => "");
  const patterns = dockerignoreText
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const matcher = await matcherFor(patterns);
  const hasExceptions = patterns.some((p) => p.startsWith("!"));

  const entries: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const children = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const child of children) {
      const abs = join(dir, child.name);
      const rel = relative(contextDir, abs).split(sep).join("/");
      const excluded = matcher.ignores(rel);
      if (child.isDirectory()) {
        if (!excluded) entries.push(rel);
        if (!excluded || hasExceptions) await walk(abs);
      } else if (!excluded && (child.isFile() || child.isSymbolicLink())) {
        // Sockets, pipes and devices cannot go in a build context; the docker CLI skips them too.
        entries.push(rel);
      }
    }
  };
  await walk(contextDir);

  const dockerfileText = await readFile(dockerfile, "utf8");
  const inside = relative(contextDir, dockerfile).split(sep).join("/");
  if (!inside.startsWith("../") && entries.includes(inside)) {
    return { root: contextDir, entries, dockerfileName: inside, dockerfileText };
  }
  return {
    root: contextDir,
    entries: entries.filter((e) => e !== ".dockerignore"),
    dockerfileName: GENERATED_DOCKERFILE,
    dockerfileText,
    // The engine drops the files `.dockerignore` names after reading the Dockerfile,
    // so naming ours there keeps it out of `COPY . .`.
    generated: { dockerignoreText: `${dockerignoreText}\n.dockerignore\n${GENERATED_DOCKERFILE}\n` },
  };
}

/**
 * A content hash of what a build would see: the Dockerfile, the build args and
 * every file's path, mode and bytes. Timestamps and ownership are left out, so
 * a fresh checkout of the same tree hashes the same.
 */
export async function hashBuildContext(context: BuildContext, args: Readonly<Record<string, string>>): Promise<string> {
  const hash = createHash("sha256");
  const field = (value: string | Buffer) => {
    hash.update(String(value.length));
    hash.update(":");
    hash.update(value);
  };
  field(context.dockerfileName);
  field(context.dockerfileText);
  for (const name of Object.keys(args).sort()) {
    field(name);
    field(args[name]!);
  }
  for (const entry of context.entries) {
    const abs = join(context.root, entry);
    const stat = await lstat(abs);
    field(entry);
    field((stat.mode & 0o7777).toString(8));
    if (stat.isSymbolicLink()) field(`symlink:${await readlink(abs)}`);
    else if (stat.isFile()) field(await readFile(abs));
    else field(stat.isDirectory() ? "dir" : "other");
  }
  return hash.digest("hex");
}

/**
 * The context as the tar stream the build endpoint takes. Owners are zeroed,
 * as the docker CLI does. tar-fs is loaded here, on the first build, rather
 * than on every start.
 */
export async function packBuildContext(context: BuildContext): Promise<Readable> {
  const { pack } = await import("tar-fs");
  return pack(context.root, {
    entries: context.entries,
    // Directories are listed explicitly, so tar-fs must not descend into them again.
    ignore: () => true,
    map: (header) => ({ ...header, uid: 0, gid: 0 }),
    finalize: false,
    finish: (tar) => {
      if (context.generated) {
        tar.entry({ name: GENERATED_DOCKERFILE, mode: 0o644 }, context.dockerfileText);
        tar.entry({ name: ".dockerignore", mode: 0o644 }, context.generated.dockerignoreText);
      }
      tar.finalize();
    },
  });
}
