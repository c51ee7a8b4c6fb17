/**
 * The anchor, built to one file (dist/anchor.js) that needs only node:
 *
 *   node anchor.js --listen-in SUBNET --port PORT --bottle NAME
 *
 * It owns the network namespace the proxy runs in (the proxy's container joins
 * the anchor's), so the proxy's address outlives the proxy: when the proxy
 * crashes or is killed, the bottle's requests are answered at once, not sent
 * into an address nobody holds (where a connection hangs until it times out),
 * and a restarted proxy comes back at the very address the bottle uses.
 *
 * While no proxy is up it listens on the proxy's address and port itself and
 * answers every connection with a 503 that names the proxy and the way back.
 * A proxy started with `--anchor` connects to it first, over an abstract Unix
 * socket (private to this network namespace: the bottle is in another), and
 * keeps that connection open for its life; the anchor then stops listening
 * and says "ok", and listens again the moment that connection closes.
 */
import net from "node:net";
import { parseArgs } from "node:util";
import { parseCidr } from "@claude-bottle/core/egress-policy";
import { anchorSocket } from "./anchor-socket.js";
import { addressesIn } from "./listen-address.js";

function fail(message: string): never {
  process.stderr.write(`claude-bottle egress anchor: ${message}\n`);
  process.exit(2);
}

const { values } = parseArgs({ options: { "listen-in": { type: "string" }, port: { type: "string" }, bottle: { type: "string" } }, strict: true });
const cidr = values["listen-in"]?.includes("/") ? parseCidr(values["listen-in"]) : undefined;
if (cidr === undefined || typeof cidr === "string") fail("--listen-in takes ADDRESS/PREFIX (e.g. 172.18.0.0/16)");
const port = Number(values.port);
if (!Number.isInteger(port) || port < 1 || port > 65535) fail("--port takes a port number");
const bottle = values.bottle ?? "";
if (!/^[\w.-]+$/.test(bottle)) fail("--bottle takes the bottle's name");

const body =
  `claude-bottle egress: this bottle's egress proxy is not running (it crashed or was killed), so nothing goes out; ` +
  `the agent keeps running. On the host: claude-bottle proxy restart ${bottle}\n`;
const answer =
  "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n" + `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;

/** Stands in for the proxy: answers, then closes, whatever was asked (a request, a CONNECT, nothing yet). */
const standIn = net.createServer((socket) => {
  socket.on("error", () => socket.destroy());
  // What the client sent is read and dropped: unread bytes at close would reset the connection before it reads the answer.
  socket.resume();
  socket.end(answer);
  // A client that never closes its side is not kept.
  socket.setTimeout(1000, () => socket.destroy());
});
standIn.on("error", (err: NodeJS.ErrnoException) => {
  // The proxy may be a moment slow to let go of the port as it dies: try again.
  if (err.code === "EADDRINUSE") setTimeout(standUp, 100);
  else fail(`cannot listen on the proxy's port: ${err.code ?? String(err)}`);
});

let proxies = 0;
let listening = false;
function standUp(): void {
  if (proxies > 0 || listening) return;
  const found = addressesIn(cidr as Exclude<typeof cidr, string | undefined>);
  if (found.length !== 1) fail(`this machine has ${found.length} addresses in ${values["listen-in"]}; it needs exactly one`);
  listening = true;
  standIn.listen(port, found[0], () => process.stdout.write(`standing in on ${found[0]}:${port}\n`));
}
function standDown(then: () => void): void {
  // close() lets go of the port at once; its callback would wait for the stand-in's last answers, which need not delay the proxy.
  if (listening) standIn.close();
  listening = false;
  then();
}

const control = net.createServer((proxy) => {
  proxies++;
  proxy.on("error", () => proxy.destroy());
  proxy.once("close", () => {
    proxies--;
    standUp();
  });
  standDown(() => proxy.write("ok\n"));
});
control.listen(anchorSocket(port), () => {
  process.stdout.write("anchor ready\n");
  standUp();
});
control.on("error", (err: NodeJS.ErrnoException) => fail(`cannot open the control socket: ${err.code ?? String(err)}`));
process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
