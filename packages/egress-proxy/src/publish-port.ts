/**
 * A published port's forwarder, built to one file (dist/publish-port.js) that needs only node:
 *
 *   node publish-port.js --listen-in SUBNET --port PORT --to HOST:PORT
 *
 * It runs in a container of its own on two networks: the bottle's (internal, no
 * route out) and a network of the bottle's published ports, whose port the
 * engine publishes on the user's loopback only. It listens on its one address
 * in SUBNET (the published side) and nowhere else, so the bottle, which sees
 * it on its own network, finds nothing listening there: the forwarder carries
 * connections from the user's loopback in, never the bottle's out.
 *
 * Prints `listening on ADDRESS:PORT` once it accepts connections.
 */
import net from "node:net";
import { parseArgs } from "node:util";
import { parseCidr } from "@claude-bottle/core/egress-policy";
import { addressesIn } from "./listen-address.js";
import { splice } from "./tunnel.js";

/** A dev server's socket (a live reload, say) may be silent for long: only hours of silence end it. */
const IDLE_MS = 6 * 60 * 60 * 1000;

function fail(message: string): never {
  process.stderr.write(`claude-bottle publish: ${message}\n`);
  process.exit(2);
}

const { values } = parseArgs({ options: { "listen-in": { type: "string" }, port: { type: "string" }, to: { type: "string" } }, strict: true });
const cidr = values["listen-in"]?.includes("/") ? parseCidr(values["listen-in"]) : undefined;
if (cidr === undefined || typeof cidr === "string") fail("--listen-in takes ADDRESS/PREFIX (e.g. 172.18.0.0/16)");
const port = Number(values.port);
if (!Number.isInteger(port) || port < 1 || port > 65535) fail("--port takes a port number");
const to = /^([\w.-]+):(\d{1,5})$/.exec(values.to ?? "");
if (!to) fail("--to takes HOST:PORT: the bottle's name and port");
const [, targetHost, targetPort] = to;
const found = addressesIn(cidr);
if (found.length !== 1) fail(`this machine has ${found.length} addresses in ${values["listen-in"]}; it needs exactly one`);

const server = net.createServer((client) => {
  // Looked up at each connection: the engine's resolver on the bottle's network knows the bottle by name once it runs.
  const upstream = net.connect({ host: targetHost, port: Number(targetPort) });
  splice(client, upstream, IDLE_MS);
});
server.on("error", (err: NodeJS.ErrnoException) => fail(`cannot listen on ${found[0]}:${port}: ${err.code ?? String(err)}`));
server.listen(port, found[0], () => process.stdout.write(`listening on ${found[0]}:${port}\n`));
process.on("SIGTERM", () => process.exit(0));
