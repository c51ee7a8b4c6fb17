import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** A dockerd of the test's own, standing for an engine on another machine. */
export interface SecondEngine {
  /** A DOCKER_HOST for it. */
  readonly host: string;
  /** Copies an image of the main engine into it (it starts with none). */
  loadImage(image: string): void;
  /** The docker CLI against it. */
  docker(...args: string[]): string;
  /** Stops it and removes every file it had; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts a second dockerd with its own data root, exec root, pidfile and
 * socket, in its own network namespace (so its bridges and firewall rules can
 * never touch the main engine's docker0) and its own mount namespace with a
 * private /tmp and home: like an engine on another machine, it has no path of
 * the test's workspaces. Its directory is under /var/tmp, which both see, only
 * for the socket the test reaches it by. Needs root, dockerd and unshare.
 */
export async function startSecondEngine(): Promise<SecondEngine> {
  const dir = mkdtempSync("/var/tmp/claude-bottle-second-engine-");
  const socket = join(dir, "docker.sock");
  writeFileSync(join(dir, "daemon.json"), "{}\n");
  writeFileSync(
    join(dir, "run.sh"),
    [
      "set -e",
      "mount -t tmpfs tmpfs /tmp",
      `mount -t tmpfs tmpfs "$HOME"`,
      "ip link set lo up",
      `exec dockerd --data-root ${dir}/data --exec-root ${dir}/exec --pidfile ${dir}/dockerd.pid -H unix://${socket}` +
        ` --bridge=none --cgroup-parent=${dir.split("/").pop()} --config-file ${dir}/daemon.json`,
    ].join("\n"),
  );
  const child = spawn("unshare", ["--net", "--mount", "--fork", "sh", join(dir, "run.sh")], {
    stdio: ["ignore", "ignore", "ignore"],
    env: { ...process.env, HOME: process.env.HOME ?? "/root" },
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const docker = (...args: string[]) => execFileSync("docker", ["-H", `unix://${socket}`, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      process.kill(Number(readFileSync(join(dir, "dockerd.pid"), "utf8")), "SIGTERM");
    } catch {
      child.kill("SIGTERM");
    }
    const killed = setTimeout(() => child.kill("SIGKILL"), 20_000);
    await exited;
    clearTimeout(killed);
    // Its mounts lived in its own namespace and went with it: what is left is plain files.
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      docker("version", "--format", "{{.Server.Version}}");
      break;
    } catch (error) {
      if (Date.now() > deadline || child.exitCode !== null) {
        await stop();
        throw new Error(`The second engine did not start: ${(error as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  return {
    host: `unix://${socket}`,
    docker,
    loadImage(image: string) {
      execFileSync("sh", ["-c", `docker save "$1" | docker -H "$2" load -q`, "sh", image, `unix://${socket}`], { stdio: "ignore" });
    },
    stop,
  };
}
