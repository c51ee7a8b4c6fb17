import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeEach, describe, expect, it } from "vitest";

const SCRIPT = fileURLToPath(new URL("../../../claude-bottle", import.meta.url));

/**
 * The checkout script in a scratch checkout: a stub bin.js stands in for the
 * CLI and a stub pnpm on PATH records whether it was called.
 */
describe("the ./claude-bottle checkout script", () => {
  let root: string;
  let pnpmLog: string;
  let stubs: string;

  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  const age = (path: string, secondsAgo: number) => {
    const when = new Date(Date.now() - secondsAgo * 1000);
    utimesSync(join(root, path), when, when);
  };
  const run = (pnpmExit = 0) =>
    spawnSync(join(root, "claude-bottle"), ["start", "claude", "--", "x y"], {
      cwd: tmpdir(),
      encoding: "utf8",
      env: { ...process.env, PATH: `${stubs}:${process.env.PATH}`, PNPM_STUB_EXIT: String(pnpmExit), PNPM_LOG: pnpmLog },
    });

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "claude-bottle-checkout-"));
    stubs = mkdtempSync(join(tmpdir(), "claude-bottle-stubs-"));
    pnpmLog = join(stubs, "pnpm.log");
    copyFileSync(SCRIPT, join(root, "claude-bottle"));
    chmodSync(join(root, "claude-bottle"), 0o755);
    write("package.json", JSON.stringify({ packageManager: "pnpm@10.0.0" }));
    write("pnpm-lock.yaml", "");
    write("pnpm-workspace.yaml", "");
    write("packages/cli/package.json", "{}");
    write("packages/cli/src/cli.ts", "");
    write("packages/cli/bin.js", 'console.log(JSON.stringify({ args: process.argv.slice(2), cwd: process.cwd() }));\n');
    writeFileSync(
      join(stubs, "pnpm"),
      '#!/bin/sh\necho "pnpm $*" >> "$PNPM_LOG"\necho "some build output"\nexit "$PNPM_STUB_EXIT"\n',
    );
    chmodSync(join(stubs, "pnpm"), 0o755);
  });

  it("builds on first use with one notice on stderr, then runs the CLI with the arguments and the caller's directory", () => {
    const result = run();
    expect(result.status).toBe(0);
    expect(readFileSync(pnpmLog, "utf8")).toBe("pnpm install --frozen-lockfile\npnpm exec turbo run build --filter=claude-bottle...\n");
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/^claude-bottle: installing dependencies and building/);
    expect(JSON.parse(result.stdout)).toEqual({ args: ["start", "claude", "--", "x y"], cwd: tmpdir() });
  });

  it("runs no pnpm at all once built, until a source changes", () => {
    run();
    writeFileSync(pnpmLog, "");
    age("packages/cli/src/cli.ts", 60);
    const warm = run();
    expect(warm.status).toBe(0);
    expect(warm.stderr).toBe("");
    expect(readFileSync(pnpmLog, "utf8")).toBe("");

    write("packages/cli/src/cli.ts", "changed");
    const rebuilt = run();
    expect(rebuilt.status).toBe(0);
    expect(readFileSync(pnpmLog, "utf8")).toContain("pnpm exec turbo run build");
  });

  it("stops with the tail of the log when the build fails, and tries again next time", () => {
    const failed = run(1);
    expect(failed.status).toBe(1);
    expect(failed.stdout).toBe("");
    expect(failed.stderr).toContain("some build output");
    expect(failed.stderr).toMatch(/the build failed; the whole log is in .*\.claude-bottle-build\.log/);
    expect(existsSync(join(root, "node_modules", ".claude-bottle-built"))).toBe(false);
    expect(run().status).toBe(0);
  });
});
