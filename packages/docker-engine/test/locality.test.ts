import { describe, expect, it } from "vitest";
import { connectDocker, dockerCandidates, engineIsRemote, type ConnectEnvironment } from "../src/index.js";

const remoteOf = (env: Record<string, string>) => {
  const where: ConnectEnvironment = { env, platform: "linux", home: "/home/u", readFile: () => undefined };
  return engineIsRemote(dockerCandidates(where)[0]!.options, env);
};

describe("whether the engine shares this machine's files (no engine needed)", () => {
  it("takes a unix socket for local, ssh:// and a tcp:// host for remote, loopback tcp for local", () => {
    expect(remoteOf({})).toBe(false);
    expect(remoteOf({ DOCKER_HOST: "unix:///run/docker.sock" })).toBe(false);
    expect(remoteOf({ DOCKER_HOST: "ssh://builder@big-machine" })).toBe(true);
    expect(remoteOf({ DOCKER_HOST: "tcp://10.0.0.5:2376" })).toBe(true);
    expect(remoteOf({ DOCKER_HOST: "tcp://127.0.0.1:2375" })).toBe(false);
    expect(remoteOf({ DOCKER_HOST: "localhost:2375" })).toBe(false);
  });

  it("lets the user's word win over the address, both ways", () => {
    // A socket forwarded from another machine (ssh -L) looks local and is not.
    expect(remoteOf({ DOCKER_HOST: "unix:///tmp/forwarded.sock", CLAUDE_BOTTLE_ENGINE: "remote" })).toBe(true);
    expect(remoteOf({ DOCKER_HOST: "tcp://10.0.0.5:2375", CLAUDE_BOTTLE_ENGINE: "Local" })).toBe(false);
  });

  it("refuses a setting that is neither, before asking any engine", async () => {
    await expect(connectDocker({ env: { CLAUDE_BOTTLE_ENGINE: "far" } })).rejects.toMatchObject({
      code: "DOCKER_UNAVAILABLE",
      message: expect.stringContaining("CLAUDE_BOTTLE_ENGINE=far"),
    });
  });
});
