import http from "node:http";
import { isIP, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import type { ConnectTarget } from "./tunnel.js";

/**
 * An agent for one client connection: its sockets are TLS to the bound host over
 * dial(). The first is the one dialled for the CONNECT, whose TLS handshake starts at
 * once, alongside the client's; an error it meets before a request takes it is kept
 * for that request.
 */
export class UpstreamAgent extends http.Agent {
  private first: { socket: tls.TLSSocket; error?: Error } | undefined;

  constructor(
    first: Socket,
    private readonly target: ConnectTarget,
    private readonly dial: () => Promise<Socket>,
    private readonly context: tls.SecureContext | undefined,
  ) {
    super({ keepAlive: true, maxSockets: 1 });
    const started = { socket: this.secure(first) } as { socket: tls.TLSSocket; error?: Error };
    started.socket.on("error", (err) => (started.error ??= err));
    this.first = started;
  }

  private secure(socket: Socket): tls.TLSSocket {
    const host = this.target.host;
    const upstream = tls.connect({
      socket,
      ...(isIP(host) === 0 && { servername: host }),
      host,
      ...(this.context && { secureContext: this.context }),
      ALPNProtocols: ["http/1.1"],
      minVersion: "TLSv1.2",
    });
    upstream.once("close", () => socket.destroy());
    return upstream;
  }

  override createConnection(_options: http.ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): undefined {
    const first = this.first;
    this.first = undefined;
    if (first?.error) {
      callback?.(first.error, undefined as unknown as Duplex);
    } else if (first && !first.socket.destroyed) {
      callback?.(null, first.socket);
    } else {
      this.dial().then(
        (socket) => callback?.(null, this.secure(socket)),
        (err: unknown) => callback?.(err as Error, undefined as unknown as Duplex),
      );
    }
    return undefined;
  }
}

