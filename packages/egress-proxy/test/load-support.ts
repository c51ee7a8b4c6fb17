/** Clients for the load and slow-client tests: real sockets against a real proxy. */
import { readdirSync, readFileSync } from "node:fs";
import net from "node:net";

/**
 * Writes `text` one byte every `everyMs` (slowloris), then keeps the connection open
 * without finishing the headers. Resolves with what the proxy answered once it closes.
 */
export function slowClient(port: number, text: string, everyMs: number): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let answer = "";
    let i = 0;
    const timer = setInterval(() => {
      if (i < text.length && socket.writable) socket.write(text[i++]!);
    }, everyMs);
    socket.on("data", (c: Buffer) => (answer += c.toString("latin1")));
    socket.on("error", () => {});
    socket.on("close", () => {
      clearInterval(timer);
      resolve({ text: answer, closed: true });
    });
  });
}

/**
 * Opens a CONNECT tunnel to `target` (an echo server behind the proxy) and resolves
 * with the socket once the proxy answered 200, or rejects with the proxy's answer.
 */
export function openTunnel(port: number, target: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`));
    let head = "";
    const onData = (c: Buffer) => {
      head += c.toString("latin1");
      const end = head.indexOf("\r\n\r\n");
      if (end === -1) return;
      socket.off("data", onData);
      if (head.startsWith("HTTP/1.1 200 ")) return resolve(socket);
      // A refusal: its body follows until the proxy closes.
      socket.on("data", (more: Buffer) => (head += more.toString("latin1")));
      socket.on("close", () => reject(Object.assign(new Error(head), { answer: head })));
    };
    socket.on("data", onData);
    socket.on("error", reject);
  });
}

/** Sends `bytes` through an open tunnel to the echo server and resolves once they came back whole. */
export function echoThrough(socket: net.Socket, bytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = 0;
    socket.on("data", (c: Buffer) => {
      got += c.length;
      if (got >= bytes) resolve();
    });
    socket.on("error", reject);
    socket.on("close", () => (got >= bytes ? resolve() : reject(new Error(`the tunnel closed after ${got} of ${bytes} bytes`))));
    socket.write(Buffer.alloc(bytes, 0x65));
  });
}

/** A loopback TCP server that sends back what it gets; `open` is its connections now. */
export async function startEchoServer(): Promise<{ port: number; open: Set<net.Socket>; close(): Promise<void> }> {
  const open = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    open.add(socket);
    socket.on("close", () => open.delete(socket));
    socket.on("error", () => {});
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    open,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A process's resident memory in bytes, from /proc (Linux). */
export function rssOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  return Number(/(\d+)/.exec(line ?? "")?.[1] ?? NaN) * 1024;
}

/** How many file descriptors a process holds open (sockets among them), from /proc (Linux). */
export function openFilesOf(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}
