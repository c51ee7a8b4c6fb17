import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { ErrorCodes, type Logger } from "@claude-bottle/core";
import { checkedBackend } from "@claude-bottle/core/host";
import { createTestContext, testSpec } from "@claude-bottle/core/testing";
import { createBubblewrapBackend } from "../src/index.js";
import { hostAgent, hostEnv, runInSandbox } from "./fixtures.js";
import { bottleErrorOf } from "@claude-bottle/core/testing";

// Outside the workspace and outside /tmp (the sandbox has its own /tmp): /var/tmp is not bound.
const outside = mkdtempSync("/var/tmp/bubblewrap-outside-");
const outsideFile = join(outside, "host-secret.txt");
writeFileSync(outsideFile, "host only");
afterAll(() => rmSync(outside, { recursive: true, force: true }));

/** Every process's command line on the host, NUL-separated arguments joined. */
function hostCommandLines(): string[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8");
      } catch {
        return "";
      }
    });
}


describe("what the agent can see and change", () => {
  it("cannot see or write a host file outside the workspace", async () => {
    const { stdout } = await runInSandbox(
      hostAgent({
        command: ["sh", "-c", `test -e ${outsideFile} && echo visible || echo hidden; echo changed > ${outsideFile} || echo write-failed`],
      }),
    );
    expect(stdout).toContain("hidden");
    expect(stdout).toContain("write-failed");
    expect(readFileSync(outsideFile, "utf8")).toBe("host only");
  });

  it("does not see the host's home directory", async () => {
    const { stdout } = await runInSandbox(
      hostAgent({ command: ["sh", "-c", `test -d ${homedir()} && echo visible || echo hidden; echo HOME=$HOME`] }),
    );
    expect(stdout).toContain("hidden");
    expect(stdout).toContain("HOME=/home/agent");
  });

  it("gets the host's system read-only", async () => {
    const { stdout } = await runInSandbox(
      hostAgent({ command: ["sh", "-c", "touch /usr/bubblewrap-probe || echo usr-read-only; touch /etc/bubblewrap-probe || echo etc-read-only"] }),
    );
    expect(stdout).toContain("usr-read-only");
    expect(stdout).toContain("etc-read-only");
    expect(existsSync("/usr/bubblewrap-probe")).toBe(false);
  });

  it("keeps its home between bottles of the same agent", async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), "bubblewrap-cache-"));
    await runInSandbox(hostAgent({ command: ["sh", "-c", "echo logged-in > $HOME/.credentials"] }), { cacheDir });
    const second = await runInSandbox(hostAgent({ command: ["sh", "-c", "cat $HOME/.credentials"] }), { cacheDir });
    expect(second.stdout).toContain("logged-in");
    expect(readFileSync(join(cacheDir, "bubblewrap", "home", "host-sh", ".credentials"), "utf8")).toContain("logged-in");
  });

  it("binds mounts read-only or read-write as the agent file says", async () => {
    const source = mkdtempSync(join(tmpdir(), "bubblewrap-mount-"));
    writeFileSync(join(source, "data.txt"), "mounted");
    const { stdout } = await runInSandbox(
      hostAgent({
        mounts: [
          { source, target: "/mnt/ro", readOnly: true },
          { source, target: "/mnt/rw", readOnly: false },
        ],
        command: ["sh", "-c", "cat /mnt/ro/data.txt; touch /mnt/ro/new || echo ro-refused; echo written > /mnt/rw/new && echo rw-ok"],
      }),
    );
    expect(stdout).toContain("mounted");
    expect(stdout).toContain("ro-refused");
    expect(stdout).toContain("rw-ok");
    expect(readFileSync(join(source, "new"), "utf8")).toBe("written\n");
  });

  it("has only a loopback interface without network, and the host's interfaces with it", async () => {
    const interfaces = (text: string) =>
      text
        .split("\n")
        .slice(2)
        .map((line) => line.split(":")[0]!.trim())
        .filter(Boolean)
        .sort();
    const offline = await runInSandbox(hostAgent({ network: false, command: ["cat", "/proc/net/dev"] }));
    expect(interfaces(offline.stdout)).toEqual(["lo"]);
    const online = await runInSandbox(hostAgent({ network: true, command: ["cat", "/proc/net/dev"] }));
    expect(interfaces(online.stdout)).toEqual(interfaces(readFileSync("/proc/net/dev", "utf8")));
  });

  it("is refused by core for a network allow-list, credentials or a limit it does not enforce, before its prepare runs", async () => {
    for (const [patch, field, enforcement] of [
      [{ egress: { mode: "allow" as const, allow: ["api.example.com"], deny: [], allowPrivate: [] } }, "network.allow", "egress.allow"],
      [{ egress: { mode: "all" as const, deny: ["evil.example"], allowPrivate: [] } }, "network.deny", "egress.deny"],
      [{ credentials: [{ env: "TOKEN", hosts: ["api.example.com"] }] }, "credentials", "credentials"],
      [{ resources: { memory: 123 * 2 ** 20 } }, "resources.memory", "limits.memory"],
    ] as const) {
      const workspace = mkdtempSync(join(tmpdir(), "bubblewrap-refused-"));
      const agent = hostAgent({ network: true, command: ["true"], workspace, ...patch });
      const error = await bottleErrorOf(checkedBackend(createBubblewrapBackend()).prepare(testSpec(agent), createTestContext({ env: hostEnv })));
      expect(error.code).toBe(ErrorCodes.POLICY_NOT_ENFORCED);
      expect(error.message).toContain(`${field} needs a backend that enforces ${enforcement}; bubblewrap does not.`);
      // Refused before prepare: it would have made .claude-bottle for the host controls.
      expect(existsSync(join(workspace, ".claude-bottle"))).toBe(false);
    }
  });

  it("says which of core's defaults it does not keep: the private-address floor with the host's network", async () => {
    const warned: string[] = [];
    const logger: Logger = { debug: () => {}, info: () => {}, warn: (m) => warned.push(m) };
    const agent = hostAgent({ network: true, command: ["true"] });
    await checkedBackend(createBubblewrapBackend()).prepare(testSpec(agent), createTestContext({ env: hostEnv, logger }));
    expect(warned).toEqual([expect.stringContaining("The bubblewrap backend does not keep: private addresses refused")]);
  });

  it("keeps the git hooks, the git config and .claude-bottle read-only, and .git cannot be moved away", async () => {
    const workspace = mkdtempSync(join(tmpdir(), "bubblewrap-controls-"));
    execFileSync("git", ["init", "--quiet", workspace]);
    const config = readFileSync(join(workspace, ".git", "config"), "utf8");
    const { stdout } = await runInSandbox(
      hostAgent({
        workspace,
        command: [
          "sh",
          "-c",
          [
            "echo 'exit 0' > .git/hooks/pre-commit || echo hook-refused",
            "echo '[core] fsmonitor = /tmp/x' >> .git/config || echo config-refused",
            "touch .claude-bottle/agents.yaml || echo agents-refused",
            // The parent: rename it away and put a git directory of the bottle's in its place.
            "mv .git .git.orig || echo move-refused",
            "mv .claude-bottle .cb.orig || echo dot-dir-refused",
          ].join("; "),
        ],
      }),
    );
    for (const refused of ["hook-refused", "config-refused", "agents-refused", "move-refused", "dot-dir-refused"]) expect(stdout).toContain(refused);
    expect(existsSync(join(workspace, ".git", "hooks", "pre-commit"))).toBe(false);
    expect(readFileSync(join(workspace, ".git", "config"), "utf8")).toBe(config);
    expect(existsSync(join(workspace, ".git.orig"))).toBe(false);
  });

  it("keeps passthrough values out of every process's arguments and out of the logs", async () => {
    const secret = `sk-test-${process.pid}-do-not-leak`;
    const logged: string[] = [];
    const logger: Logger = { debug: (m) => logged.push(m), info: (m) => logged.push(m), warn: (m) => logged.push(m) };
    const ctx = createTestContext({ env: { ...hostEnv, TEST_API_KEY: secret }, logger });
    const backend = createBubblewrapBackend();
    const agent = hostAgent({
      env: [{ name: "TEST_API_KEY", passthrough: true }],
      // Shows the value is there, then waits for stdin so the host can look at the running processes.
      command: ["sh", "-c", 'echo "inside:$TEST_API_KEY"; read line; cat /proc/[0-9]*/cmdline'],
    });
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    let output = "";
    const ready = new Promise<void>((resolve) =>
      stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("inside:")) resolve();
      }),
    );
    const launched = backend.launch(await backend.prepare(testSpec(agent), ctx), { extraArgs: [], detach: false, stdio: { stdin, stdout, stderr: new PassThrough() } }, ctx);
    await ready;
    const leaking = hostCommandLines().filter((line) => line.includes(secret));
    stdin.end("go\n");
    await launched;

    expect(output).toContain(`inside:${secret}`);
    expect(leaking).toEqual([]);
    expect(output.split(`inside:${secret}`)[1]).not.toContain(secret);
    expect(logged.join("\n")).not.toContain(secret);
    expect(JSON.stringify(ctx.events)).not.toContain(secret);
  });
});

describe("lifecycle and errors", () => {
  it("kills the sandbox when the signal fires and reports ABORTED", async () => {
    const ctx = createTestContext({ env: hostEnv });
    const backend = createBubblewrapBackend();
    // An unusual duration marks this sleep among the host's processes.
    const agent = hostAgent({ command: ["sh", "-c", "echo started; exec sleep 3171"] });
    const stdout = new PassThrough();
    stdout.on("data", (chunk: Buffer) => chunk.toString().includes("started") && ctx.controller.abort());
    const error = await bottleErrorOf(
      backend.launch(await backend.prepare(testSpec(agent), ctx), { extraArgs: [], detach: false, stdio: { stdin: new PassThrough(), stdout, stderr: new PassThrough() } }, ctx),
    );
    expect(error.code).toBe(ErrorCodes.ABORTED);
    expect(hostCommandLines().filter((line) => line === "sleep\u00003171\u0000")).toEqual([]);
  });

  it("refuses an agent without a command, saying why", async () => {
    const { command: _, ...agent } = hostAgent();
    const error = await bottleErrorOf(createBubblewrapBackend().prepare(testSpec(agent), createTestContext({ env: hostEnv })));
    expect(error.code).toBe(ErrorCodes.AGENT_INVALID);
    expect(error.message).toContain("no command");
    expect(error.hint).toContain("command:");
  });

  it("refuses a mount whose source does not exist", async () => {
    const agent = hostAgent({ mounts: [{ source: join(outside, "missing"), target: "/mnt/x", readOnly: true }] });
    const error = await bottleErrorOf(createBubblewrapBackend().prepare(testSpec(agent), createTestContext({ env: hostEnv })));
    expect(error.code).toBe(ErrorCodes.MOUNT_NOT_FOUND);
  });

  it("says how to install bubblewrap when it is missing", async () => {
    const backend = createBubblewrapBackend({ bwrap: join(outside, "no-bwrap-here") });
    const error = await bottleErrorOf(backend.prepare(testSpec(hostAgent()), createTestContext({ env: hostEnv })));
    expect(error.code).toBe("BUBBLEWRAP_NOT_FOUND");
    expect(error.hint).toContain("apt install bubblewrap");
    const checks = await backend.doctor!(createTestContext({ env: hostEnv }));
    expect(checks.every((check) => !check.ok)).toBe(true);
    expect(checks[0]!.hint).toContain("dnf install bubblewrap");
  });

  it("finds bwrap through CLAUDE_BOTTLE_BWRAP", async () => {
    const ctx = createTestContext({ env: { CLAUDE_BOTTLE_BWRAP: join(outside, "elsewhere", "bwrap") } });
    const error = await bottleErrorOf(createBubblewrapBackend().prepare(testSpec(hostAgent()), ctx));
    expect(error.message).toContain(join(outside, "elsewhere", "bwrap"));
  });

  it("reports bwrap's version and a working sandbox in doctor", async () => {
    const checks = await createBubblewrapBackend().doctor!(createTestContext({ env: hostEnv }));
    expect(checks.map((c) => [c.name, c.ok])).toEqual([
      ["bubblewrap", true],
      ["user namespaces", true],
    ]);
    expect(checks[0]!.detail).toMatch(/bwrap \(bubblewrap \d/);
  });

  it("says once per prepare that the image is not used, and reports its phases", async () => {
    const infos: string[] = [];
    const ctx = createTestContext({ env: hostEnv, logger: { debug() {}, info: (m) => infos.push(m), warn() {} } });
    const backend = createBubblewrapBackend();
    await backend.launch(await backend.prepare(testSpec(hostAgent()), ctx), { extraArgs: [], detach: false, stdio: { stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough() } }, ctx);
    expect(infos.filter((m) => m.includes("image (host) is not used"))).toHaveLength(1);
    expect(ctx.events.filter((e) => e.type === "phase-end").map((e) => [e.phase, e.type === "phase-end" && e.ok])).toEqual([
      ["sandbox-check", true],
      ["start", true],
    ]);
  });
});
