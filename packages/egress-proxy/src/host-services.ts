/**
 * Host services, built to one file (dist/host-services.js) that needs only node.
 * Two ends of one way from a bottle to ports of the user's loopback that the
 * user's own configuration names (SECURITY.md points 3 and 9), joined by Unix
 * sockets in a directory only the two of them mount:
 *
 *   node host-services.js relay --dir DIR --port N...
 *     In the host's network namespace: for each port, a socket DIR/N.sock whose
 *     connections go to 127.0.0.1:N (or [::1]:N). Nothing listens on a network.
 *
 *   node host-services.js serve --dir DIR --listen-in SUBNET --port N...
 *     In the egress proxy's network namespace: for each port, a listener on its
 *     one address in SUBNET (the bottle's network) whose connections go to DIR/N.sock.
 *
 * A port not named has no socket and no listener: there is nothing to reach.
 * Prints `listening on ...` once every port is served.
 */
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { parseArgs } from "node:util";
import { parseCidr } from "@claude-bottle/core/egress-policy";
import { addressesIn } from "./listen-address.js";
import { splice } from "./tunnel.js";

/** A database or MCP connection may be silent for long between uses. */
const IDLE_MS = 6 * 60 * 60 * 1000;

function fail(message: string): never {
  process.stderr.write(`claude-bottle host services: ${message}\n`);
  process.exit(2);
}

const [mode, ...rest] = process.argv.slice(2);
const { values } = parseArgs({
  args: rest,
  options: { dir: { type: "string" }, "listen-in": { type: "string" }, port: { type: "string", multiple: true, default: [] } },
  strict: true,
});
const dir = values.dir ?? fail("--dir takes the directory of the sockets");
const ports = (values.port ?? []).map((text) => {
  const port = Number(text);
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? port : fail(`--port takes a port number, not "${text}"`);
});
if (!ports.length) fail("name at least one --port");
const socketOf = (port: number) => path.join(dir, `${port}.sock`);

/** Listens with each server, then says so once all listen. */
function serveAll(servers: { server: net.Server; listen: (done: () => void) => void; where: string }[]): void {
  let waiting = servers.length;
  for (const { server, listen, where } of servers) {
    server.on("error", (err: NodeJS.ErrnoException) => fail(`cannot listen on ${where}: ${err.code ?? String(err)}`));
    listen(() => {
      if (--waiting === 0) process.stdout.write(`listening on ${servers.map((s) => s.where).join(", ")}\n`);
    });
  }
}

/** The host's loopback at `port`: IPv4 first, and IPv6 for a service that listens only there. */
function dialLoopback(port: number, client: net.Socket): void {
  const connect = (host: string, fallback?: string) => {
    const upstream = net.connect({ host, port });
    upstream.once("connect", () => splice(client, upstream, IDLE_MS));
    upstream.once("error", (err: NodeJS.ErrnoException) => {
      if (fallback && err.code === "ECONNREFUSED") connect(fallback);
      else client.destroy();
    });
  };
  client.on("error", () => client.destroy());
  connect("127.0.0.1", "::1");
}

if (mode === "relay") {
  serveAll(
    ports.map((port) => {
      const socket = socketOf(port);
      // One left by a relay before this one (a restart) would make the listen fail.
      fs.rmSync(socket, { force: true });
      const server = net.createServer((client) => dialLoopback(port, client));
      return { server, listen: (done) => server.listen(socket, done), where: socket };
    }),
  );
} else if (mode === "serve") {
  const cidr = values["listen-in"]?.includes("/") ? parseCidr(values["listen-in"]) : undefined;
  if (cidr === undefined || typeof cidr === "string") fail("--listen-in takes ADDRESS/PREFIX (e.g. 172.18.0.0/16)");
  const found = addressesIn(cidr);
  if (found.length !== 1) fail(`this machine has ${found.length} addresses in ${values["listen-in"]}; it needs exactly one`);
  const address = found[0]!;
  serveAll(
    ports.map((port) => {
      const server = net.createServer((client) => splice(client, net.connect(socketOf(port)), IDLE_MS));
      return { server, listen: (done) => server.listen(port, address, done), where: `${address}:${port}` };
    }),
  );
} else {
  fail(`the first argument is relay or serve, not ${JSON.stringify(mode ?? "")}`);
}
process.on("SIGTERM", () => process.exit(0));
