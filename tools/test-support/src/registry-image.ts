import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { scratchForThisRun, TEST_FIXTURE_LABEL } from "./run-labels.js";

/** Debian's `docker-registry` package: the same distribution/registry code as the `registry:2` image. */
export const REGISTRY_BINARY = "/usr/bin/docker-registry";

/** The tag tests hand to the smolmachines backend through `CLAUDE_BOTTLE_REGISTRY_IMAGE`. */
export const TEST_REGISTRY_IMAGE = "claude-bottle-test/registry:2.8";

// Plain HTTP on :5000 with filesystem storage and no auth: what `registry:2.8.3` runs by default.
const REGISTRY_CONFIG = `version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: :5000
`;

/** The shared libraries `ldd` says the binary loads, with the paths it loads them from. */
function sharedLibraries(binary: string): string[] {
  const output = execFileSync("ldd", [binary], { encoding: "utf8" });
  const paths: string[] = [];
  for (const line of output.split("\n")) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (match?.[1]) paths.push(match[1]);
  }
  return paths;
}

/**
 * A build context for a registry image made from local files only (`FROM
 * scratch`, the Debian binary, its libraries and a config), for machines that
 * cannot pull `registry:2.8.3`.
 */
export function registryImageContext(): string {
  if (!existsSync(REGISTRY_BINARY)) {
    throw new Error(`${REGISTRY_BINARY} is missing: install Debian's docker-registry (apt-get install docker-registry).`);
  }
  const dir = mkdtempSync(join(tmpdir(), "claude-bottle-registry-image-"));
  const copies: string[] = [];
  const place = (source: string) => {
    const target = join(dir, "rootfs", source);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(source, target);
    copies.push(source);
  };
  place(REGISTRY_BINARY);
  for (const library of sharedLibraries(REGISTRY_BINARY)) place(library);
  mkdirSync(join(dir, "rootfs", "etc", "docker", "registry"), { recursive: true });
  writeFileSync(join(dir, "rootfs", "etc", "docker", "registry", "config.yml"), REGISTRY_CONFIG);
  writeFileSync(
    join(dir, "Dockerfile"),
    [
      ...scratchForThisRun(),
      "COPY rootfs/ /",
      "EXPOSE 5000",
      'ENTRYPOINT ["/usr/bin/docker-registry"]',
      'CMD ["serve", "/etc/docker/registry/config.yml"]',
      `LABEL ${TEST_FIXTURE_LABEL}="${basename(REGISTRY_BINARY)}"`,
    ].join("\n"),
  );
  return dir;
}

/**
 * Builds `claude-bottle-test/registry:2.8` with the Docker CLI (once per
 * machine: the build is cached) and returns its tag.
 */
export function buildTestRegistryImage(tag = TEST_REGISTRY_IMAGE): string {
  const context = registryImageContext();
  try {
    execFileSync("docker", ["build", "--quiet", "--tag", tag, context], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, DOCKER_BUILDKIT: "0" },
    });
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
  return tag;
}
