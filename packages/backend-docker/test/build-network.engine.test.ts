import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { NetworkPolicy, ResolvedAgent } from "@claude-bottle/core";
import { captureStdio, testSpec } from "@claude-bottle/core/testing";
import { buildTestNodeImage } from "@claude-bottle/test-support";
import type Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDockerBackend } from "../src/index.js";
import { createTestContext, removeHomesOfAgents, uniqueSuffix, useTestEngine } from "./support/engine.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const FIXTURES = fileURLToPath(new URL("./fixtures/egress/", import.meta.url));
const CERTS = fileURLToPath(new URL("../../egress-proxy/test/fixtures/", import.meta.url));
const suffix = uniqueSuffix();
const slug = `build-net-test-${suffix}`;

/**
 * A project agent's Dockerfile is the project's input: its RUN steps get the
 * bottle's network rules. Every target is a container on a network this test
 * makes (or an address the proxy refuses before anything is sent).
 */
describe("image builds under the agent's network rules (docker)", () => {
  let docker: Dockerode;
  let nodeImage: string;
  let serverIp: string;
  let testServer: TestServer | undefined;
  const network = `cb-build-net-${suffix}`;
  const server = `cb-build-server-${suffix}`;

  useTestEngine((found) => (docker = found));

  beforeAll(async () => {
    nodeImage = buildTestNodeImage();
    testServer = await startTestServer(docker, {
      name: server,
      network,
      image: nodeImage,
      cmd: ["node", "/fixtures/server.cjs"],
      binds: [`${join(FIXTURES, "server.cjs")}:/fixtures/server.cjs:ro`, `${join(CERTS, "cert.pem")}:/fixtures/cert.pem:ro`, `${join(CERTS, "key.pem")}:/fixtures/key.pem:ro`],
      suffix,
    });
    serverIp = testServer.ip;
  });

  afterAll(async () => {
    if (!docker) return;
    await testServer?.remove();
    const images = await docker.listImages({ filters: { reference: [`claude-bottle/${slug}*`] } });
    for (const image of images) await docker.getImage(image.Id).remove({ force: true }).catch(() => {});
    await removeHomesOfAgents(docker, slug);
  });

  const backend = () =>
    createDockerBackend({
      egress: { image: nodeImage, extraHosts: { "allowed.test": serverIp, "other.test": serverIp }, dns: ["127.0.0.1"], networks: [network] },
    });

  /**
   * A build whose RUN steps each fetch a URL (fixtures/egress/fetch.cjs, through the build's proxy
   * when it has one) and print `NAME: REACHED <body>` or `NAME: BLOCKED <why>`; the build itself succeeds.
   */
  const agentFor = (name: string, steps: Record<string, string>, patch: Partial<ResolvedAgent>): ResolvedAgent => {
    const context = mkdtempSync(join(tmpdir(), "claude-bottle-build-net-"));
    copyFileSync(join(FIXTURES, "fetch.cjs"), join(context, "fetch.cjs"));
    const runs = Object.entries(steps).map(([step, url]) => `RUN ${JSON.stringify(["node", "/fetch.cjs", step, ...url.split(" ")])}`);
    writeFileSync(join(context, "Dockerfile"), [`FROM ${nodeImage}`, "COPY fetch.cjs /fetch.cjs", `LABEL test.suffix=${suffix}`, ...runs].join("\n"));
    return {
      slug: `${slug}-${name}`,
      origin: "project",
      image: { kind: "build", dockerfile: join(context, "Dockerfile"), context, args: {} },
      command: ["node", "-e", ""],
      args: [],
      workspace: mkdtempSync(join(tmpdir(), "claude-bottle-build-net-ws-")),
      mounts: [],
      env: [],
      network: false,
      resources: {},
      ...patch,
    };
  };

  /** Starts the agent detached (so the proxy and its denials outlive the build), returns what the build printed and the denials. */
  async function build(theAgent: ResolvedAgent) {
    const target = backend();
    const ctx = createTestContext();
    const launched = await target.launch(await target.prepare(testSpec(theAgent), ctx), { extraArgs: [], detach: true, stdio: captureStdio().stdio }, ctx);
    try {
      const lines = ctx.events.flatMap((e) => (e.type === "output" && e.phase === "build" ? [e.line] : []));
      const result = (name: string) => lines.find((line) => line.startsWith(`${name}: `)) ?? `${name}: (no line) ${lines.join("\n")}`;
      const denials = captureStdio();
      if (theAgent.network) await target.logs!(launched.name, { follow: false, egress: true, stdio: denials.stdio }, ctx);
      const records = denials
        .stdout()
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as { host: string; port: number; reason: string });
      const history = execFileSync("docker", ["history", "--no-trunc", "--format", "{{.CreatedBy}}", (await docker.getContainer(launched.name).inspect()).Image], { encoding: "utf8" });
      return { result, records, history };
    } finally {
      await target.remove!(launched.name, { force: true }, ctx);
    }
  }

  it("ADD <url>, which the engine would fetch itself outside any network rule, is refused before the build, in every spelling", async () => {
    const url = `http://${serverIp}:8080/leak`;
    const spellings = [
      `ADD ${url} /leak`,
      `add --chown=1:1 ${url} /leak`,
      `ADD ["${url}", "/leak"]`,
      `ADD /fetch.cjs \\\n  # a comment between the lines\n  ${url} /in/`,
      `# escape=\`\nFROM scratch\nADD \`\n ${url} /leak`,
      `ONBUILD ADD ${url} /leak`,
      `ADD git@example.test:org/repo.git /repo`,
    ];
    for (const [i, spelling] of spellings.entries()) {
      const theAgent = agentFor(`add-${i}`, {}, { network: i % 2 === 0 ? false : true });
      writeFileSync(theAgent.image.kind === "build" ? theAgent.image.dockerfile : "", spelling.startsWith("# escape") ? spelling : `FROM ${nodeImage}\n${spelling}\n`);
      const error = await backend()
        .prepare(testSpec(theAgent), createTestContext())
        .then(
          () => undefined,
          (e: unknown) => e as { code?: string; message: string; hint?: string },
        );
      expect(error, spelling).toMatchObject({ code: "AGENT_INVALID", message: expect.stringContaining("ADDs a URL"), hint: expect.stringContaining("RUN") });
    }
    // A local ADD stays allowed.
    const local = agentFor("add-local", {}, {});
    writeFileSync(local.image.kind === "build" ? local.image.dockerfile : "", `FROM ${nodeImage}\nADD fetch.cjs /fetch.cjs\n`);
    await expect(backend().prepare(testSpec(local), createTestContext())).resolves.toBeDefined();
  });

  it("network: false: a RUN step reaches nothing, by address or by name", async () => {
    const { result } = await build(
      agentFor("off", { direct: `http://${serverIp}:8080/direct --direct`, metadata: "http://169.254.169.254/ --direct", name: "http://allowed.test:8080/ --direct" }, { network: false }),
    );
    expect(result("direct")).toMatch(/^direct: BLOCKED (ENETUNREACH|EHOSTUNREACH|timed out)$/);
    expect(result("metadata")).toMatch(/^metadata: BLOCKED (ENETUNREACH|EHOSTUNREACH|timed out)$/);
    expect(result("name")).toMatch(/^name: BLOCKED (ENOTFOUND|EAI_AGAIN)$/);
  });

  it("a policy: RUN steps go through the bottle's proxy, which lets through what it allows and records what it refuses", async () => {
    const policy: NetworkPolicy = { mode: "allow", allow: ["allowed.test"], deny: [], allowPrivate: [`${serverIp}/32`] };
    const { result, records, history } = await build(
      agentFor(
        "policy",
        {
          allowed: "http://allowed.test:8080/hi",
          "off the list": "http://other.test:8080/",
          "ip literal": `http://${serverIp}:8080/`,
          // Without the proxy: the bottle's network has no route anywhere else.
          "around the proxy": `http://${serverIp}:8080/ --direct`,
        },
        // A user-level agent: only those may open a private range (here, the test server's address).
        { network: true, egress: policy, origin: "user" },
      ),
    );
    expect(result("allowed")).toBe("allowed: REACHED hello from allowed.test:8080 /hi");
    expect(result("off the list")).toMatch(/^off the list: BLOCKED 403 .*not on this bottle's allow-list/);
    expect(result("ip literal")).toMatch(/^ip literal: BLOCKED 403 /);
    expect(result("around the proxy")).toMatch(/^around the proxy: BLOCKED (ENETUNREACH|EHOSTUNREACH|timed out)$/);
    expect(records).toEqual(expect.arrayContaining([expect.objectContaining({ host: "other.test", port: 8080, reason: "not-allowed" })]));
    // The proxy's address went in as predefined build args: not in the image's history.
    expect(history).toContain("fetch.cjs");
    expect(history).not.toMatch(/https?_proxy|:3128/i);
  });

  it("network: true: still the proxy, so never the metadata address or a private one", async () => {
    const { result, records } = await build(
      agentFor(
        "all",
        { metadata: "http://169.254.169.254/latest/meta-data/", private: `http://${serverIp}:8080/`, "by name": "http://other.test:8080/" },
        { network: true, egress: { mode: "all", deny: [], allowPrivate: [] } },
      ),
    );
    expect(result("metadata")).toMatch(/^metadata: BLOCKED 403 /);
    expect(result("private")).toMatch(/^private: BLOCKED 403 /);
    expect(result("by name")).toMatch(/^by name: BLOCKED 403 /);
    expect(records).toEqual(expect.arrayContaining([expect.objectContaining({ host: "169.254.169.254" }), expect.objectContaining({ host: "other.test" })]));
  });
});
