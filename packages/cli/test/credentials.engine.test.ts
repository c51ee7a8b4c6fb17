import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ISOLATIONS } from "@claude-bottle/core";
import { buildTestNodeImage, busyboxContext } from "@claude-bottle/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docker, removeAgentTraces, removeHomesOf, requireDocker } from "./support/docker.js";
import { createProject, type TestProject } from "./support/project.js";
import { runCli } from "./support/run-cli.js";

const SECRET = "sk-ant-api03-e2e-secret-value-0123456789";

/**
 * SECURITY.md point 4 through the whole CLI on Docker: log in once, start in
 * two projects, the bottle and everything the CLI prints or the engine keeps
 * hold a placeholder only; after logout a start fails naming login. On runc and on gVisor.
 */
describe.each(ISOLATIONS)("credentials (docker, %s)", (isolation) => {
  let project: TestProject;
  let second: string;
  const env = () => ({ ...project.env, CLAUDE_BOTTLE_CREDENTIAL_STORE: "file", CLAUDE_BOTTLE_PROXY_IMAGE: buildTestNodeImage() });
  const run = (args: string[], cwd = project.dir, input?: string) => runCli(args, { cwd, env: env(), input });

  beforeAll(() => {
    requireDocker();
    project = createProject();
    second = join(project.dir, "..", "second");
    mkdirSync(second);
    const context = busyboxContext();
    project.writeUserAgent(
      "keyed",
      `build: { dockerfile: ${join(context, "Dockerfile")}, context: ${context} }\ncommand: [sh, -c]\nnetwork: { allow: [api.example.com] }\ncredentials: [{ env: KEYED_TOKEN, hosts: [api.example.com] }]\nisolation: ${isolation}\n`,
    );
  });

  afterAll(() => {
    removeHomesOf(project.dir);
    removeHomesOf(second);
    removeAgentTraces(["keyed"]);
  });

  it("login once, two projects see a placeholder, nothing printed or kept holds the value, logout stops the next start", async () => {
    expect((await run(["login", "keyed"], project.dir, `${SECRET}\n`)).code).toBe(0);
    for (const dir of [project.dir, second]) {
      const started = await run(["start", "keyed", "--", 'echo "token=$KEYED_TOKEN"; echo "ca=$NODE_EXTRA_CA_CERTS"'], dir);
      expect(started.code, started.stderr).toBe(0);
      expect(started.stdout).toMatch(/^token=sk-ant-api03-claude-bottle-placeholder-[0-9a-f]{32}\nca=\/etc\/claude-bottle\/egress-ca\.pem\n$/);
      expect(started.stdout + started.stderr).not.toContain(SECRET);
    }

    const name = (await run(["start", "--detach", "keyed", "--", "sleep 60"])).stdout.trim();
    try {
      for (const container of [name, `${name}-egress`]) expect(docker("inspect", container)).not.toContain(SECRET);
      const timing = await run(["start", "--timing=json", "keyed", "--", "true"]);
      expect(timing.stderr).not.toContain(SECRET);
    } finally {
      await run(["rm", "-f", name]);
    }

    expect((await run(["logout", "keyed"])).stdout).toContain("Removed KEYED_TOKEN");
    const after = await run(["start", "keyed", "--", "true"], second);
    expect(after.code).toBe(125);
    expect(after.stderr).toContain("claude-bottle login keyed");
  });

  it("proxy restart gives a killed credential proxy its value again from login's store, on its stdin; after logout it says where to put it", async () => {
    expect((await run(["login", "keyed"], project.dir, `${SECRET}\n`)).code).toBe(0);
    const name = (await run(["start", "--detach", "keyed", "--", "sleep 120"])).stdout.trim();
    try {
      docker("kill", `${name}-egress`);
      // The value is in the store only (not in the CLI's environment): the restarted proxy exits at once without it.
      const restarted = await run(["proxy", "restart", name]);
      expect(restarted.code, restarted.stderr).toBe(0);
      expect(docker("inspect", "--format", "{{.State.Running}}", `${name}-egress`).trim()).toBe("true");
      expect(docker("inspect", `${name}-egress`)).not.toContain(SECRET);
      expect(restarted.stdout + restarted.stderr).not.toContain(SECRET);

      expect((await run(["logout", "keyed"])).code).toBe(0);
      docker("kill", `${name}-egress`);
      const refused = await run(["proxy", "restart", name]);
      expect(refused.code).toBe(125);
      expect(refused.stderr).toContain("KEYED_TOKEN, which is neither set here nor stored");
      expect(refused.stderr).toContain("claude-bottle login");
    } finally {
      await run(["rm", "-f", name]);
    }
  });
});
