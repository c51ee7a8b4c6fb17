import type Dockerode from "dockerode";

/** A server container on a network of the test's own: the only kind of target an egress test may reach. */
export interface TestServer {
  /** Its address on that network. */
  ip: string;
  /** Removes the container, then the network. */
  remove(): Promise<void>;
}

/**
 * Makes the network `network` and starts `name` on it from `image`, running
 * `cmd`; both carry `dev.claude-bottle.test=<suffix>` so a run's leftovers
 * can be found.
 */
export async function startTestServer(
  docker: Dockerode,
  options: { name: string; network: string; image: string; cmd: string[]; binds?: string[]; suffix: string },
): Promise<TestServer> {
  const labels = { "dev.claude-bottle.test": options.suffix };
  await docker.createNetwork({ Name: options.network, Labels: labels });
  const container = await docker.createContainer({
    name: options.name,
    Image: options.image,
    Cmd: options.cmd,
    Labels: labels,
    HostConfig: { NetworkMode: options.network, ...(options.binds && { Binds: options.binds }) },
  });
  await container.start();
  const ip = (await container.inspect()).NetworkSettings.Networks[options.network]!.IPAddress;
  return {
    ip,
    async remove() {
      await docker.getContainer(options.name).remove({ force: true }).catch(() => {});
      await docker.getNetwork(options.network).remove().catch(() => {});
    },
  };
}
