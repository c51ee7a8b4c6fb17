/**
 * Where the anchor (anchor.ts) and a proxy started with `--anchor` meet: an abstract
 * Unix socket (Linux), which only processes in the same network namespace can reach.
 */
import net from "node:net";

/** One per port: a namespace holds one proxy per port (the name is machine-wide where tests run both on the host). */
export function anchorSocket(port: number): string {
  return `\0claude-bottle-egress-anchor-${port}`;
}

/**
 * Asks the anchor to give up the proxy's port, and resolves once it has; the
 * returned socket must stay open for as long as this proxy runs (its close
 * tells the anchor to stand in again). An anchor not listening yet (started
 * alongside) is tried again until `timeoutMs`.
 */
export async function holdAnchor(port: number, timeoutMs = 10_000): Promise<net.Socket> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await askAnchor(port, deadline);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== "ECONNREFUSED" && code !== "ENOENT") || performance.now() > deadline) {
        throw new Error(`cannot reach the anchor: ${code ?? (err as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

function askAnchor(port: number, deadline: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(anchorSocket(port));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("it did not answer in time"));
    }, Math.max(0, deadline - performance.now()));
    let text = "";
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("latin1");
      if (!text.includes("ok\n")) return;
      clearTimeout(timer);
      socket.removeAllListeners("data");
      resolve(socket);
    });
    socket.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
