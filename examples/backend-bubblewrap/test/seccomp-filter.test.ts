import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ttyInjectionFilter } from "../src/index.js";
import { hostAgent, runInSandbox } from "./fixtures.js";

const PERL = "/usr/bin/perl";
const SCRIPT = "/usr/bin/script";
const DIST = fileURLToPath(new URL("../dist/index.js", import.meta.url));

// Tries each ioctl request on stdin and prints "request:result", the result an errno number or "ok".
const tryIoctls =
  'for my $r (0x5412, 0x541c, 0x100005412, 0x5401) { my $arg = "x"; my $ok = ioctl(STDIN, $r, $arg); ' +
  'printf "%x:%s\\n", $r, $ok ? "ok" : ($! + 0) }';
const EPERM = "1";
const ENOTTY = "25";

/** These tests need perl and util-linux's script, and a filter for this machine's architecture: missing ones fail the test. */
function requirePrerequisites(...programs: string[]): void {
  for (const program of programs) {
    if (!existsSync(program)) throw new Error(`${program} is missing: install it to run this test (Debian: perl, util-linux).`);
  }
  if (!ttyInjectionFilter()) throw new Error(`no seccomp filter for ${process.arch}: this test runs on x64 and arm64 only.`);
}

describe("ttyInjectionFilter", () => {
  it("is a whole number of BPF instructions on the architectures it knows, and absent elsewhere", () => {
    for (const arch of ["x64", "arm64"]) {
      const program = ttyInjectionFilter(arch)!;
      expect(program.length % 8).toBe(0);
      expect(program.length).toBeGreaterThan(0);
    }
    expect(ttyInjectionFilter("riscv64")).toBeUndefined();
  });

  it("refuses TIOCSTI and TIOCLINUX, whatever the high bits, and lets other ioctls through", async () => {
    requirePrerequisites(PERL);
    const { stdout } = await runInSandbox(hostAgent({ command: [PERL, "-e", tryIoctls] }));
    // Stdin is a pipe here: an ioctl the filter lets through fails with ENOTTY, one it stops with EPERM.
    expect(stdout.trim().split("\n")).toEqual([`5412:${EPERM}`, `541c:${EPERM}`, `100005412:${EPERM}`, `5401:${ENOTTY}`]);
  });

  // A real terminal from util-linux's script(1); the driver uses the built package, as the CLI would.
  it(
    "gives a terminal agent its controlling terminal, without TIOCSTI",
    async () => {
      requirePrerequisites(PERL, SCRIPT);
      if (!existsSync(DIST)) throw new Error(`${DIST} is missing: build this package first (pnpm build).`);
      const driver = [
        `const { createBubblewrapBackend } = await import(${JSON.stringify(DIST)});`,
        `const { createTestContext, testSpec } = await import("@claude-bottle/core/testing");`,
        `const ctx = createTestContext({ env: { PATH: process.env.PATH } });`,
        `const agent = ${JSON.stringify(hostAgent({ command: [PERL, "-e", `open(my $tty, "<", "/dev/tty") ? print "controlling-tty\\n" : print "no-tty:$!\\n"; ${tryIoctls}`] }))};`,
        `const backend = createBubblewrapBackend();`,
        `const stdio = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };`,
        `const launched = await backend.launch(await backend.prepare(testSpec(agent), ctx), { extraArgs: [], detach: false, stdio }, ctx);`,
        `console.log("exit:" + launched.exitCode);`,
      ].join("\n");
      const output = await new Promise<string>((resolve, reject) =>
        execFile(SCRIPT, ["-qec", `node --input-type=module -e ${shellQuote(driver)}`, "/dev/null"], { cwd: fileURLToPath(new URL("..", import.meta.url)) }, (error, stdout, stderr) =>
          error ? reject(new Error(`${error.message}\n${stdout}\n${stderr}`)) : resolve(stdout),
        ),
      );
      const lines = output.replace(/\r/g, "").trim().split("\n");
      expect(lines).toContain("controlling-tty");
      expect(lines).toContain(`5412:${EPERM}`);
      expect(lines).toContain(`100005412:${EPERM}`);
      // TCGETS succeeds: stdin is the terminal itself, not a pipe.
      expect(lines).toContain("5401:ok");
      expect(lines).toContain("exit:0");
    },
  );
});

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
