import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ResolvedAgent } from "@claude-bottle/core";
import { captureStdio, testSpec } from "@claude-bottle/core/testing";
import { busyboxContext, buildTestNodeImage, copyHostBinaries, GIT_BINARY } from "@claude-bottle/test-support";
import type Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDockerBackend } from "../src/index.js";
import { createTestContext, removeHomesOfAgents, uniqueSuffix, useTestEngine } from "./support/engine.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const FIXTURES = fileURLToPath(new URL("./fixtures/egress/", import.meta.url));
const suffix = uniqueSuffix();
/** Where git finds its HTTPS transport: copied into the bottle's image beside git. */
const GIT_REMOTE_HTTPS = "/usr/lib/git-core/git-remote-https";

/**
 * The github credential binding (issue 24) on the docker backend: a server on
 * a network of the test's own stands in for github.com and api.github.com (the
 * proxy learns the names from a hosts list and trusts its certificate, made
 * here for those names). The bottle runs the real `git push` over HTTPS, whose
 * token goes inside `Basic base64(user:token)`, and a `gh`-style request with
 * `Authorization: token …`; the server must get the real token in both, the
 * bottle must print only the placeholder, and another host must get the
 * placeholder.
 */
describe("the github credential (docker)", () => {
  let docker: Dockerode;
  let testServer: TestServer | undefined;
  let serverIp: string;
  const network = `cb-github-test-${suffix}`;
  const server = `cb-github-server-${suffix}`;
  const scratch = mkdtempSync(join(tmpdir(), "claude-bottle-github-"));
  const workspace = join(scratch, "workspace");
  const record = join(scratch, "record");
  const certs = join(scratch, "certs");
  const token = `ghp_realTokenValue${suffix.replace(/[^0-9a-f]/g, "")}0123456789`;
  let context: string;

  useTestEngine((found) => (docker = found));

  beforeAll(async () => {
    for (const dir of [workspace, record, certs]) execFileSync("mkdir", ["-p", dir]);
    execFileSync("chmod", ["777", record]);
    // A certificate for the names the server stands in for, and for the other host, whose TLS the bottle checks itself.
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=github.com", "-addext", "subjectAltName=DNS:github.com,DNS:api.github.com,DNS:other.test", "-keyout", join(certs, "key.pem"), "-out", join(certs, "cert.pem")], { stdio: "ignore" });
    execFileSync("chmod", ["644", join(certs, "key.pem")]);
    copyFileSync(join(certs, "cert.pem"), join(workspace, "ca.pem"));
    copyFileSync(join(FIXTURES, "probe.cjs"), join(workspace, "probe.cjs"));
    // busybox, the host's git with its HTTPS transport, and node (for the gh-style request).
    context = busyboxContext("COPY rootfs/ /");
    copyHostBinaries(join(context, "rootfs"), [GIT_BINARY, GIT_REMOTE_HTTPS, process.execPath]);
    testServer = await startTestServer(docker, {
      name: server,
      network,
      image: buildTestNodeImage(),
      cmd: ["node", "/server/github-server.cjs"],
      binds: [`${record}:/record`, `${join(FIXTURES, "github-server.cjs")}:/server/github-server.cjs:ro`, `${certs}:/fixtures:ro`],
      suffix,
    });
    serverIp = testServer.ip;
  });

  afterAll(async () => {
    await testServer?.remove();
    if (docker) await removeHomesOfAgents(docker, `github-test-${suffix}`);
    for (const image of execFileSync("docker", ["images", "-q", `claude-bottle/github-test-${suffix}`], { encoding: "utf8" }).split("\n").filter(Boolean)) {
      execFileSync("docker", ["rmi", "-f", image], { stdio: "ignore" });
    }
    rmSync(scratch, { recursive: true, force: true });
    rmSync(context, { recursive: true, force: true });
  });

  it("git push and a gh-style request to github get the real token (in Basic for git); the bottle and another host see the placeholder", async () => {
    const backend = createDockerBackend({
      egress: {
        image: buildTestNodeImage(),
        extraHosts: { "github.com": serverIp, "api.github.com": serverIp, "other.test": serverIp },
        dns: ["127.0.0.1"],
        networks: [network],
        upstreamCa: readFileSync(join(certs, "cert.pem"), "utf8"),
      },
    });
    const ctx = createTestContext({ env: { GITHUB_TOKEN: token } });
    const io = captureStdio();
    const gh = (name: string, host: string, scheme: string, ca: string) => ({
      name,
      connect: { host, port: 443, path: `/${name}`, headers: { Authorization: `${scheme} \${env:GITHUB_TOKEN}` }, ca },
    });
    const steps = [
      gh("gh-token", "api.github.com", "token", "/etc/claude-bottle/egress-ca.pem"),
      gh("gh-bearer", "api.github.com", "Bearer", "/etc/claude-bottle/egress-ca.pem"),
      gh("gh-other", "other.test", "token", "/workspace/ca.pem"),
    ];
    const script = [
      'echo "held=$GITHUB_TOKEN"',
      "cd /workspace && git init -q repo && cd repo && git -c user.name=a -c user.email=a@example.com commit -q --allow-empty -m work",
      // As an agent's credential helper gives it to git: user name and token, sent as Basic after the server asks.
      'git push "https://x-access-token:$GITHUB_TOKEN@github.com/owner/repo.git" HEAD:refs/heads/work 2>&1 | sed "s/^/git: /"',
      // The other host's TLS is its own, checked against its own certificate: the proxy only tunnels it.
      'GIT_SSL_CAINFO=/workspace/ca.pem git push "https://x-access-token:$GITHUB_TOKEN@other.test/owner/repo.git" HEAD:refs/heads/work 2>&1 | sed "s/^/git: /"',
      `node /workspace/probe.cjs '${JSON.stringify({ steps })}'`,
    ].join("\n");
    const agent: ResolvedAgent = {
      slug: `github-test-${suffix}`,
      origin: "user",
      image: { kind: "build", dockerfile: join(context, "Dockerfile"), context, args: {} },
      command: ["sh", "-c", script],
      args: [],
      workspace,
      mounts: [],
      env: [],
      network: true,
      egress: { mode: "allow", allow: ["github.com", "api.github.com", "other.test"], deny: [], allowPrivate: [`${serverIp}/32`] },
      resources: {},
      credentials: [{ env: "GITHUB_TOKEN", hosts: ["github.com", "api.github.com"] }],
    };
    const launched = await backend.launch(await backend.prepare(testSpec(agent), ctx), { extraArgs: [], detach: false, stdio: io.stdio }, ctx);
    const printed = io.stdout() + io.stderr();
    expect(launched, printed).toMatchObject({ exitCode: 0 });
    const placeholder = /^held=(\S+)$/m.exec(io.stdout())?.[1];
    expect(placeholder).toMatch(/^claude-bottle-placeholder-[0-9a-f]{32}$/);
    expect(printed).not.toContain(token);

    const seen = readFileSync(join(record, "requests.log"), "utf8").trim().split("\n").map((line) => JSON.parse(line) as { host: string; url: string; authorization: string | null });
    const basic = (secret: string) => `Basic ${Buffer.from(`x-access-token:${secret}`).toString("base64")}`;
    const pushes = (host: string) => seen.filter((r) => r.host === host && r.url.startsWith("/owner/repo.git/info/refs?service=git-receive-pack"));
    // git asks without, is asked for Basic, and asks again with it: the real token inside, for github.com.
    expect(pushes("github.com").map((r) => r.authorization)).toEqual([null, basic(token)]);
    expect(pushes("other.test").map((r) => r.authorization)).toEqual([null, basic(placeholder!)]);
    expect(seen.find((r) => r.url === "/gh-token")?.authorization).toBe(`token ${token}`);
    expect(seen.find((r) => r.url === "/gh-bearer")?.authorization).toBe(`Bearer ${token}`);
    expect(seen.find((r) => r.url === "/gh-other")?.authorization).toBe(`token ${placeholder}`);
    expect(seen.filter((r) => r.host === "other.test").map((r) => r.authorization ?? "")).not.toContainEqual(expect.stringContaining(token));
  });
});
