// Time until a real Claude Code shows its first screen on a pseudo-terminal (tmux), through
// `claude-bottle start` and through a bare `docker run --rm -it` of the same image, interleaved.
//   node bench/first-screen.mjs [--image local/claude-code] [--runs 10] [--node node]
// The image comes from shared/claude-image/build.sh. Two pairs: without network (the agent file says
// network: false, docker run gets --network none), and as a real user runs it: an allow-list and a
// credential binding (its own network and egress proxy, a CA, a placeholder) against `docker run` on the
// engine's default network with the same variable. CLAUDE_BOTTLE_PROXY_IMAGE names the proxy's image
// where Docker Hub is out of reach (pnpm bench sets it).
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values: flags } = parseArgs({
  options: { image: { type: "string", default: "local/claude-code" }, runs: { type: "string", default: "10" }, node: { type: "string", default: "node" } },
});
const CLI = join(import.meta.dirname, "..", "packages", "cli", "bin.js");
const MARKER = "Welcome to Claude Code";

if (spawnSync("docker", ["image", "inspect", flags.image], { stdio: "ignore" }).status !== 0) {
  console.error(`first-screen: no image ${flags.image}; build it with shared/claude-image/build.sh (as root, ~2 minutes).`);
  process.exit(0);
}

const config = mkdtempSync(join(tmpdir(), "claude-bottle-first-screen-"));
mkdirSync(join(config, "claude-bottle", "agents"), { recursive: true });
writeFileSync(join(config, "claude-bottle", "agents", "real-claude.yaml"), `image: ${flags.image}\ncommand: [claude]\nnetwork: false\n`);
// The built-in claude's policy and binding (packages/cli/src/builtin-agents.ts), on the same image.
writeFileSync(
  join(config, "claude-bottle", "agents", "real-claude-egress.yaml"),
  `image: ${flags.image}\ncommand: [claude]\nnetwork: { allow: [api.anthropic.com, statsig.anthropic.com, sentry.io] }\ncredentials: [{ env: ANTHROPIC_API_KEY, hosts: [api.anthropic.com] }]\n`,
);
// Not a key: nothing leaves for the API before the first screen, and the bottle sees only a placeholder for it anyway.
const KEY = "ANTHROPIC_API_KEY=sk-ant-api03-first-screen-bench-not-a-key";
const project = mkdtempSync(join(tmpdir(), "claude-bottle-first-screen-project-"));
const proxyImage = process.env.CLAUDE_BOTTLE_PROXY_IMAGE ? `CLAUDE_BOTTLE_PROXY_IMAGE=${process.env.CLAUDE_BOTTLE_PROXY_IMAGE}` : "";
const env = `XDG_CONFIG_HOME=${config} XDG_STATE_HOME=${config}/state XDG_CACHE_HOME=${config}/cache ${proxyImage}`;

/** Milliseconds from the command to the marker on the screen, polled every 5 ms. */
function firstScreen(command) {
  const socket = `cb-first-screen-${process.pid}`;
  const tmux = (...args) => execFileSync("tmux", ["-L", socket, ...args], { encoding: "utf8" });
  const started = performance.now();
  tmux("new-session", "-d", "-s", "m", "-x", "120", "-y", "40", `cd ${project} && ${command}; sleep 30`);
  try {
    for (;;) {
      if (tmux("capture-pane", "-p", "-t", "m").includes(MARKER)) return performance.now() - started;
      if (performance.now() - started > 60_000) throw new Error(`no first screen after 60 s: ${command}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  } finally {
    tmux("kill-server");
    // The bottle or container goes with its terminal; make sure before the next run.
    spawnSync("sh", ["-c", `docker ps -aq --filter ancestor=${flags.image} | xargs -r docker rm -f`], { stdio: "ignore" });
  }
}

/** Each case with its baseline, the pairs sampled in turns. */
const cases = {
  "claude-bottle start, network: false": `env ${env} ${flags.node} ${CLI} start real-claude`,
  "docker run --rm -it --network none": `docker run --rm -it --network none ${flags.image} claude`,
  "claude-bottle start, allow-list + credential": `env ${env} ${KEY} ${flags.node} ${CLI} start real-claude-egress`,
  "docker run --rm -it (default network)": `docker run --rm -it -e ${KEY} ${flags.image} claude`,
};
for (const command of Object.values(cases)) firstScreen(command); // warm-up: volumes, page cache
const samples = Object.fromEntries(Object.keys(cases).map((name) => [name, []]));
for (let i = 0; i < Number(flags.runs); i++) for (const [name, command] of Object.entries(cases)) samples[name].push(firstScreen(command));
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const [ours, bare, oursEgress, bareNetwork] = Object.values(samples).map(median);
for (const [name, values] of Object.entries(samples)) console.log(`${name.padEnd(46)} median ${median(values).toFixed(0)} ms  (min ${Math.min(...values).toFixed(0)}, max ${Math.max(...values).toFixed(0)})`);
console.log(`ratio without network ${(ours / bare).toFixed(2)}x; with an allow-list and a credential ${(oursEgress / bareNetwork).toFixed(2)}x (target 1.15x)`);
const nodeVersion = execFileSync(flags.node, ["--version"], { encoding: "utf8" }).trim();
if (process.env.NODE_EXTRA_CA_CERTS && Number(nodeVersion.slice(1).split(".")[0]) < 22) {
  console.log(`(NODE_EXTRA_CA_CERTS is set: Node ${nodeVersion} reads it while it starts, which claude-bottle's figure includes; see bench/README.md)`);
}
