import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { dockerCandidates, type ConnectEnvironment } from "../src/index.js";

const linux = (env: Record<string, string> = {}, files: Record<string, string> = {}): ConnectEnvironment => ({
  env,
  platform: "linux",
  home: "/home/u",
  readFile: (path) => files[path],
});

describe("the strategy chain that finds a Docker engine (no engine needed)", () => {
  it("tries the default, rootless and Docker Desktop sockets in order on Linux", () => {
    const candidates = dockerCandidates(linux({ XDG_RUNTIME_DIR: "/run/user/1000" }));
    expect(candidates.map((c) => c.socketPath)).toEqual([
      "/var/run/docker.sock",
      "/run/user/1000/docker.sock",
      "/home/u/.docker/run/docker.sock",
      "/home/u/.docker/desktop/docker.sock",
    ]);
    for (const c of candidates) expect(c.options.host).toBeUndefined();
  });

  it("leaves the rootless socket out when there is no runtime directory", () => {
    expect(dockerCandidates(linux()).map((c) => c.socketPath)).not.toContain(undefined);
    expect(dockerCandidates(linux()).some((c) => c.source.includes("rootless"))).toBe(false);
  });

  it("adds Colima and OrbStack sockets on macOS", () => {
    const paths = dockerCandidates({ ...linux(), platform: "darwin" }).map((c) => c.socketPath);
    expect(paths).toContain("/home/u/.colima/default/docker.sock");
    expect(paths).toContain("/home/u/.orbstack/run/docker.sock");
  });

  it("uses the named pipe on Windows", () => {
    expect(dockerCandidates({ ...linux(), platform: "win32" }).map((c) => c.socketPath)).toEqual(["//./pipe/docker_engine"]);
  });

  it("takes DOCKER_HOST as the only place to look: unix", () => {
    const candidates = dockerCandidates(linux({ DOCKER_HOST: "unix:///tmp/engine.sock" }));
    expect(candidates).toHaveLength(1);
    expect(candidates[0]!.socketPath).toBe("/tmp/engine.sock");
    expect(candidates[0]!.source).toBe("DOCKER_HOST=unix:///tmp/engine.sock");
  });

  it("takes DOCKER_HOST as the only place to look: tcp, plain and TLS", () => {
    const [plain] = dockerCandidates(linux({ DOCKER_HOST: "tcp://10.0.0.5:2375" }));
    expect(plain!.options).toMatchObject({ protocol: "http", host: "10.0.0.5", port: "2375", socketPath: undefined });

    const [tls] = dockerCandidates(
      linux({ DOCKER_HOST: "tcp://engine.example:2376", DOCKER_CERT_PATH: "/certs" }, { "/certs/ca.pem": "CA", "/certs/cert.pem": "CERT", "/certs/key.pem": "KEY" }),
    );
    expect(tls!.options).toMatchObject({ protocol: "https", host: "engine.example", port: "2376", ca: "CA", cert: "CERT", key: "KEY" });

    const [verify] = dockerCandidates(linux({ DOCKER_HOST: "tcp://engine.example:4000", DOCKER_TLS_VERIFY: "1" }));
    expect(verify!.options.protocol).toBe("https");
  });

  it("takes DOCKER_HOST as the only place to look: ssh, with the agent socket", () => {
    const [ssh] = dockerCandidates(linux({ DOCKER_HOST: "ssh://dev@builder.example:2222", SSH_AUTH_SOCK: "/tmp/agent" }));
    expect(ssh!.options).toMatchObject({ protocol: "ssh", host: "builder.example", port: "2222", username: "dev" });
    expect(ssh!.options.sshOptions).toEqual({ agent: "/tmp/agent" });
  });

  it("reads a bare host:port in DOCKER_HOST as tcp", () => {
    const [bare] = dockerCandidates(linux({ DOCKER_HOST: "localhost:2375" }));
    expect(bare!.options).toMatchObject({ protocol: "http", host: "localhost", port: "2375" });
  });

  it("follows the docker CLI's current context, and DOCKER_CONTEXT over it", () => {
    const meta = (name: string) => `/home/u/.docker/contexts/meta/${createHash("sha256").update(name).digest("hex")}/meta.json`;
    const files = {
      "/home/u/.docker/config.json": JSON.stringify({ currentContext: "colima" }),
      [meta("colima")]: JSON.stringify({ Endpoints: { docker: { Host: "unix:///home/u/.colima/default/docker.sock" } } }),
      [meta("remote")]: JSON.stringify({ Endpoints: { docker: { Host: "tcp://remote.example:2375" } } }),
    };
    const [fromConfig] = dockerCandidates(linux({}, files));
    expect(fromConfig!.socketPath).toBe("/home/u/.colima/default/docker.sock");
    expect(fromConfig!.source).toContain('docker context "colima"');

    const [fromEnv] = dockerCandidates(linux({ DOCKER_CONTEXT: "remote" }, files));
    expect(fromEnv!.options).toMatchObject({ host: "remote.example", port: "2375" });
  });

  it("ignores the default context and a context without an engine address", () => {
    const files = { "/home/u/.docker/config.json": JSON.stringify({ currentContext: "default" }) };
    expect(dockerCandidates(linux({}, files))[0]!.socketPath).toBe("/var/run/docker.sock");
    expect(dockerCandidates(linux({ DOCKER_CONTEXT: "gone" }))[0]!.socketPath).toBe("/var/run/docker.sock");
  });

  it("prefers DOCKER_HOST over a context", () => {
    const [first] = dockerCandidates(linux({ DOCKER_HOST: "unix:///tmp/x.sock", DOCKER_CONTEXT: "remote" }));
    expect(first!.socketPath).toBe("/tmp/x.sock");
  });
});
