/**
 * The standalone entry as a sidecar runs it: dist/main.js copied alone into an empty
 * directory (no node_modules anywhere above it that it could lean on), started with node.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createBottleCa } from "../src/index.js";
import { cert as testCert, cleanUp, connectVia, httpsRequest, httpsVia, startHttpServer, startTlsServer, TunnelAgent, viaProxy } from "./support.js";

const built = fileURLToPath(new URL("../dist/main.js", import.meta.url));
let dir: string;
let main: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  if (!existsSync(built)) throw new Error(`${built} is missing: build the package first (turbo runs build before test)`);
  dir = mkdtempSync(join(tmpdir(), "egress-main-"));
  main = join(dir, "main.js");
  copyFileSync(built, main);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await cleanUp();
});

function start(args: string[], stdin?: string) {
  const child = spawn(process.execPath, [main, ...args], { cwd: dir, stdio: ["pipe", "pipe", "pipe"] });
  children.push(child);
  child.stdin.end(stdin ?? ""); // as the backend does: attach, write the secrets, close
  const lines: string[] = [];
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const reader = createInterface({ input: child.stdout });
  const first = new Promise<string>((resolve, reject) => {
    reader.on("line", (line) => {
      lines.push(line);
      if (lines.length === 1) resolve(line);
    });
    child.on("exit", (code) => reject(new Error(`exited ${code} before listening: ${stderr}`)));
  });
  first.catch(() => {}); // awaited by the tests that expect it to listen
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, lines, first, exited, stderr: () => stderr };
}

describe("the standalone proxy (dist/main.js)", () => {
  it("is one file that imports node built-ins only", () => {
    const source = readFileSync(built, "utf8");
    const specifiers = [...source.matchAll(/^\s*import\b[^"']*["']([^"']+)["']/gm)].map((m) => m[1]);
    expect(specifiers.length).toBeGreaterThan(0);
    expect(specifiers.filter((s) => !s?.startsWith("node:"))).toEqual([]);
    expect(source).not.toMatch(/\bimport\(|\brequire\(/);
  });

  it("listens, proxies, writes denials as JSON lines (file 0600 and stdout), and exits 0 on SIGTERM", async () => {
    const web = await startHttpServer();
    const tlsServer = await startTlsServer();
    const policy = join(dir, "policy.json");
    const denials = join(dir, "denials.jsonl");
    writeFileSync(policy, JSON.stringify({ mode: "allow", allow: ["127.0.0.1"], allowPrivate: ["127.0.0.1/32"] }));
    const proxy = start(["--policy", policy, "--listen", "127.0.0.1:0", "--denials", denials, "--denials", "-"]);
    const line = await proxy.first;
    expect(line).toMatch(/^listening on 127\.0\.0\.1:\d+$/);
    const port = Number(line.split(":").pop());

    expect((await viaProxy({ port }, `http://127.0.0.1:${web.port}/`)).body).toBe(`hello from 127.0.0.1:${web.port}`);
    expect((await httpsVia({ port }, `127.0.0.1:${tlsServer.port}`, "localhost")).status).toBe(200);
    // Off the list: refused before any lookup, so the name never leaves this machine.
    const refused = await connectVia({ port }, "not-listed.example:443");
    expect(refused.status).toBe(403);
    expect(refused.body).toBe("claude-bottle egress: not-listed.example:443 is not on this bottle's allow-list (policy: allow)\n");
    expect((await viaProxy({ port }, "http://169.254.169.254/")).status).toBe(403);

    const fileLines = readFileSync(denials, "utf8").trim().split("\n");
    const records = fileLines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map(({ host, port: p, reason }) => ({ host, port: p, reason }))).toEqual([
      { host: "not-listed.example", port: 443, reason: "not-allowed" },
      { host: "169.254.169.254", port: 80, reason: "ip-literal" },
    ]);
    for (const r of records) {
      expect(Object.keys(r)).toEqual(["time", "host", "port", "reason", "detail"]);
      expect(new Date(r.time as string).toISOString()).toBe(r.time);
    }
    expect(statSync(denials).mode & 0o777).toBe(0o600);
    // The same lines on stdout; they come through another pipe than the answers, so wait for them.
    await vi.waitFor(() => expect(proxy.lines.slice(1)).toEqual(fileLines));

    proxy.child.kill("SIGTERM");
    const [code, signal] = await proxy.exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(proxy.stderr()).toBe("");
  });

  it("exits 0 on SIGINT with a tunnel still open, and appends to an existing denials file", async () => {
    const tlsServer = await startTlsServer();
    const policy = join(dir, "policy-all.json");
    const denials = join(dir, "existing.jsonl");
    writeFileSync(denials, '{"earlier":true}\n', { mode: 0o600 });
    writeFileSync(policy, JSON.stringify({ mode: "all", allowPrivate: ["127.0.0.1/32"] }));
    const proxy = start(["--policy", policy, "--listen", "127.0.0.1:0", "--denials", denials]);
    const port = Number((await proxy.first).split(":").pop());
    const open = await connectVia({ port }, `127.0.0.1:${tlsServer.port}`);
    expect(open.status).toBe(200);
    expect((await connectVia({ port }, "10.1.2.3:443")).status).toBe(403);
    const tunnelClosed = once(open.socket, "close");
    proxy.child.kill("SIGINT");
    expect(await proxy.exited).toEqual([0, null]);
    await tunnelClosed;
    const lines = readFileSync(denials, "utf8").trim().split("\n");
    expect(lines[0]).toBe('{"earlier":true}');
    expect(JSON.parse(lines[1] ?? "")).toMatchObject({ host: "10.1.2.3", port: 443, reason: "blocked-address" });
  });

  it.each([
    [[], /--policy FILE is required/],
    [["--policy", "/nonexistent/policy.json"], /cannot read the policy \/nonexistent\/policy.json: ENOENT/],
    [["--policy", "POLICY", "--listen", "3128"], /--listen takes HOST:PORT/],
    [["--policy", "POLICY", "--bogus"], /Unknown option '--bogus'/],
    [["--policy", "BAD"], /invalid policy in .*bad.json: policy.allow\[0\]: "not a host" is not a host name/],
    [["--policy", "NOTJSON"], /is not JSON/],
    [["--policy", "POLICY", "--listen-in", "127.0.0.1"], /--listen-in takes ADDRESS\/PREFIX/],
    [["--policy", "POLICY", "--listen-in", "198.51.100.0/24"], /--listen-in 198\.51\.100\.0\/24: this machine has no address in it/],
  ])("exits 2 with a message for %j", async (args, message) => {
    const good = join(dir, "good.json");
    const bad = join(dir, "bad.json");
    const notJson = join(dir, "not.json");
    writeFileSync(good, '{"mode":"all"}');
    writeFileSync(bad, '{"mode":"allow","allow":["not a host"]}');
    writeFileSync(notJson, "{mode: all}");
    const real = args.map((a) => (a === "POLICY" ? good : a === "BAD" ? bad : a === "NOTJSON" ? notJson : a));
    const proxy = start(real);
    const [code] = await proxy.exited;
    expect(code).toBe(2);
    expect(proxy.stderr()).toMatch(message);
    expect(proxy.lines).toEqual([]);
  });

  it("--listen-in listens on its address in that subnet only, not on the others it has", async () => {
    const policy = join(dir, "in.json");
    writeFileSync(policy, '{"mode":"all"}');
    const proxy = start(["--policy", policy, "--listen", "0.0.0.0:0", "--listen-in", "127.0.0.0/8"]);
    const line = await proxy.first;
    expect(line).toMatch(/^listening on 127\.0\.0\.1:\d+$/);
    const port = Number(line.split(":").pop());
    // Another address of this machine, outside the subnet: nothing listens there.
    const other = Object.values(networkInterfaces()).flat().find((i) => i?.family === "IPv4" && !i.internal)?.address;
    expect(other, "a non-loopback IPv4 address to try").toBeDefined();
    const refused = await new Promise<string>((resolve) => {
      const socket = connect(port, other!);
      socket.on("connect", () => resolve("connected"));
      socket.on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? "error"));
    });
    expect(refused).toBe("ECONNREFUSED");
  });

  it("exits 1 when it cannot listen", async () => {
    const web = await startHttpServer();
    const policy = join(dir, "busy.json");
    writeFileSync(policy, '{"mode":"all"}');
    const proxy = start(["--policy", policy, "--listen", `127.0.0.1:${web.port}`]);
    const [code] = await proxy.exited;
    expect(code).toBe(1);
    expect(proxy.stderr()).toContain(`cannot listen on 127.0.0.1:${web.port}: EADDRINUSE`);
  });
});

describe("the standalone proxy with credentials (secrets on stdin)", () => {
  const VALUE = "sk-ant-STDIN-VALUE-5b9e0c1d2f3a4b5c";
  const PLACEHOLDER = "cb-placeholder-ANTHROPIC_API_KEY-stdin";
  const ca = createBottleCa({ hosts: ["localhost"] });
  const secretBits = [VALUE, ca.keyPem.split("\n")[1]!]; // the value, and a line of the CA's key
  // "localhost" may resolve to ::1 as well as 127.0.0.1; both are lifted for the test.
  const policy = {
    mode: "allow",
    allow: ["localhost"],
    allowPrivate: ["127.0.0.1/32", "::1/128"],
    credentials: [{ env: "ANTHROPIC_API_KEY", hosts: ["localhost"], placeholder: PLACEHOLDER }],
  };
  const secrets = JSON.stringify({ ca, values: { ANTHROPIC_API_KEY: VALUE }, upstreamCa: testCert });

  /** Everything below a directory, as text. */
  const everyFile = (root: string): string =>
    readdirSync(root, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => readFileSync(join(e.parentPath, e.name), "latin1"))
      .join("\n");

  it("injects the value for the bound host, refuses a placeholder in the query, and shows the value nowhere", async () => {
    const server = await startTlsServer();
    const work = mkdtempSync(join(dir, "creds-"));
    const policyFile = join(work, "policy.json");
    const denials = join(work, "denials.jsonl");
    writeFileSync(policyFile, JSON.stringify(policy));
    const proxy = start(["--policy", policyFile, "--listen", "127.0.0.1:0", "--denials", denials, "--denials", "-", "--secrets-from-stdin"], secrets);
    const port = Number((await proxy.first).split(":").pop());
    const pid = proxy.child.pid!;

    const agent = new TunnelAgent(port, { ca: ca.certPem, keepAlive: true, maxSockets: 1 });
    try {
      const ok = await httpsRequest(agent, `https://localhost:${server.port}/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": PLACEHOLDER, authorization: `Bearer ${PLACEHOLDER}` },
        body: ['{"messages":[]}'],
      });
      expect(ok.status).toBe(200);
      expect(server.seen[0]?.headers["x-api-key"]).toBe(VALUE);
      expect(server.seen[0]?.headers.authorization).toBe(`Bearer ${VALUE}`);
      const refused = await httpsRequest(agent, `https://localhost:${server.port}/v1/models?key=${PLACEHOLDER}`, { headers: { "x-api-key": PLACEHOLDER } });
      expect(refused.status).toBe(403);
      expect(server.seen).toHaveLength(1);
    } finally {
      agent.destroy();
    }
    await vi.waitFor(() => expect(proxy.lines.length).toBe(2));
    const record = JSON.parse(proxy.lines[1]!) as Record<string, unknown>;
    expect(record).toMatchObject({ host: "localhost", port: server.port, reason: "credential-misuse" });

    // Where a value could show: argv, the environment, what it printed, what it wrote.
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "latin1");
    const environ = readFileSync(`/proc/${pid}/environ`, "latin1");
    expect(cmdline).toContain("--secrets-from-stdin");
    proxy.child.kill("SIGTERM");
    expect(await proxy.exited).toEqual([0, null]);
    const printed = `${proxy.lines.join("\n")}\n${proxy.stderr()}`;
    const written = everyFile(work);
    expect(written).toContain("credential-misuse");
    for (const secret of secretBits) {
      for (const [where, text] of Object.entries({ cmdline, environ, printed, written })) {
        expect({ where, leaked: text.includes(secret) }).toEqual({ where, leaked: false });
      }
    }
  });

  it.each([
    ["stdin that is not JSON", () => `{"values":{"ANTHROPIC_API_KEY":"${VALUE}"`, policy, /secrets on stdin: the document is not JSON \(its text is not shown: it holds secrets\)/],
    ["a bound variable without a value", () => JSON.stringify({ ca, values: {} }), policy, /values\.ANTHROPIC_API_KEY is missing: the policy binds it/],
    ["a value the policy does not bind", () => JSON.stringify({ ca, values: { ANTHROPIC_API_KEY: VALUE, OTHER: VALUE } }), policy, /values\.OTHER: the policy binds no credential OTHER/],
    ["a CA without its key", () => JSON.stringify({ ca: { certPem: ca.certPem, keyPem: createBottleCa().keyPem }, values: { ANTHROPIC_API_KEY: VALUE } }), policy, /the CA key does not belong to the CA certificate/],
    ["a value with a line break", () => JSON.stringify({ ca, values: { ANTHROPIC_API_KEY: `${VALUE}\r\nx: y` } }), policy, /value must be a non-empty string without control characters/],
    ["a value in the policy file", () => secrets, { ...policy, credentials: [{ ...policy.credentials[0], value: VALUE }] }, /a value never goes in a file/],
  ])("exits 2 for %s, without showing a value", async (_what, stdin, policyObject, message) => {
    const policyFile = join(dir, "creds-bad.json");
    writeFileSync(policyFile, JSON.stringify(policyObject));
    const proxy = start(["--policy", policyFile, "--listen", "127.0.0.1:0", "--secrets-from-stdin"], stdin());
    const [code] = await proxy.exited;
    expect(code).toBe(2);
    expect(proxy.stderr()).toMatch(message);
    expect(proxy.stderr()).not.toContain(VALUE);
    expect(proxy.lines).toEqual([]);
  });

  it("exits 2 when the policy binds credentials and the secrets are not on stdin", async () => {
    const policyFile = join(dir, "creds-nostdin.json");
    writeFileSync(policyFile, JSON.stringify(policy));
    const proxy = start(["--policy", policyFile, "--listen", "127.0.0.1:0"]);
    const [code] = await proxy.exited;
    expect(code).toBe(2);
    expect(proxy.stderr()).toMatch(/binds credentials \(ANTHROPIC_API_KEY\): start with --secrets-from-stdin/);
  });
});
