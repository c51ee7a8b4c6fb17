import { createServer as createHttpServer, request } from "node:http";
import { createServer } from "node:net";
import { buildTestNodeImage } from "@claude-bottle/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docker, removeHomesOf, requireDocker } from "./support/docker.js";
import { createProject, type TestProject } from "./support/project.js";
import { runCli } from "./support/run-cli.js";

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The body the host gets from a URL, polled until the bottle's server is up. */
async function bodyOf(url: string): Promise<string | undefined> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const body = await new Promise<string | undefined>((resolve) => {
      const req = request(url, { timeout: 3000 }, (res) => {
        let text = "";
        res.on("data", (c) => (text += c));
        res.on("end", () => resolve(res.statusCode === 200 ? text : undefined));
      });
      req.on("error", () => resolve(undefined));
      req.end();
    });
    if (body !== undefined || Date.now() > deadline) return body;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** `start --publish`, `ls` and `port` through the built CLI against the real engine. */
describe("published ports through the CLI (docker)", () => {
  let project: TestProject;
  let name: string | undefined;
  const run = (args: string[]) => runCli(args, { cwd: project.dir, env: { ...project.env, CLAUDE_BOTTLE_BACKEND: "docker", CLAUDE_BOTTLE_PROXY_IMAGE: buildTestNodeImage() } });

  beforeAll(() => {
    requireDocker();
    project = createProject();
    const server = `require("http").createServer((q,s)=>s.end("served "+q.url)).listen(3000,"0.0.0.0")`;
    project.writeUserAgent("web", [`image: ${buildTestNodeImage()}`, `command: [node, -e, ${JSON.stringify(server)}]`, "network: { allow: [] }", ""].join("\n"));
    // Fetches the URL it is given, without a proxy (as NO_PROXY sends host.claude-bottle.internal), and prints what came back.
    const fetcher = `require("http").get(process.argv[1],r=>{let b="";r.on("data",c=>b+=c);r.on("end",()=>console.log("got "+b))}).on("error",e=>console.log("failed "+e.code))`;
    project.writeUserAgent("fetch", [`image: ${buildTestNodeImage()}`, `command: [node, -e, ${JSON.stringify(fetcher)}]`, "network: false", ""].join("\n"));
  });

  afterAll(() => {
    if (name) {
      try {
        docker("rm", "-f", name);
      } catch {
        // Removed by the test itself.
      }
    }
    removeHomesOf(project.dir);
  });

  it("publishes at start and on a running bottle, and ls and port print the URL to open", async () => {
    const [first, second] = [await freePort(), await freePort()];
    const started = await run(["start", "--detach", "--publish", `${first}:3000`, "web"]);
    expect(started.code, started.stderr).toBe(0);
    name = started.stdout.trim();
    expect(await bodyOf(`http://127.0.0.1:${first}/a`)).toBe("served /a");
    expect((await run(["ls"])).stdout).toContain(`http://127.0.0.1:${first}/->3000`);
    expect(await run(["port", name])).toMatchObject({ code: 0, stdout: `3000 http://127.0.0.1:${first}/\n` });

    expect(await run(["port", name, `${second}:3000`])).toMatchObject({ code: 0, stdout: `3000 http://127.0.0.1:${second}/\n` });
    expect(await bodyOf(`http://127.0.0.1:${second}/b`)).toBe("served /b");
    const taken = await run(["port", name, `${second}:3000`]);
    expect(taken.code).toBe(125);
    expect(taken.stderr).toContain(`already publishes a port on ${second}`);

    expect((await run(["rm", "--force", name])).code).toBe(0);
    name = undefined;
    expect(await bodyOf(`http://127.0.0.1:${first}/`).catch(() => undefined)).toBeUndefined();
  });

  it("start --host-service lets even a bottle without network reach that port of the host's loopback, and no other", async () => {
    const hits: string[] = [];
    const servers = await Promise.all(
      ["named", "other"].map(async (which) => {
        const server = createHttpServer((req, res) => {
          hits.push(which);
          res.end(`${which} service`);
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        return { server, port: (server.address() as { port: number }).port };
      }),
    );
    try {
      const [named, other] = [servers[0]!, servers[1]!];
      const reached = await run(["start", "--host-service", String(named.port), "fetch", "--", `http://host.claude-bottle.internal:${named.port}/`]);
      expect(reached, reached.stderr).toMatchObject({ code: 0, stdout: "got named service\n" });
      const refused = await run(["start", "--host-service", String(named.port), "fetch", "--", `http://host.claude-bottle.internal:${other.port}/`]);
      expect(refused.stdout).toBe("failed ECONNREFUSED\n");
      expect(hits).toEqual(["named"]);
    } finally {
      for (const { server } of servers as { server: ReturnType<typeof createHttpServer> }[]) server.close();
    }
  });
});
