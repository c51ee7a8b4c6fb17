/** The proxy's own answers: short plain-text bodies that start with who is speaking. */
import { STATUS_CODES, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";

export const PREFIX = "claude-bottle egress: ";

/** On a request the HTTP server parsed (absolute-form requests). Keep-alive stays up. */
export function sendText(res: ServerResponse, status: number, message: string): void {
  const body = `${PREFIX}${message}\n`;
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

/** On a raw socket (CONNECT, or a request the parser refused): the answer, then the connection closes. */
export function sendRawText(socket: Duplex, status: number, message: string): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const body = `${PREFIX}${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\n` +
      "Content-Type: text/plain; charset=utf-8\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      "Connection: close\r\n\r\n" +
      body,
    () => socket.destroy(),
  );
}
