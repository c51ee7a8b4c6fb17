// pnpm bench: start-up costs of claude-bottle against baselines measured in the same run.
// Prints a table (median, min, max, ratio, target) and writes bench/results/<date>.json.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildTestNodeImage, buildTestRegistryImage, busyboxContext } from "@claude-bottle/test-support";
import { runOnce, sampleInTurns, stats } from "./measure.mjs";
import { egressMemoryUnderLoad } from "./proxy-rss.mjs";

const REPO = join(import.meta.dirname, "..");
const CLI = join(REPO, "packages", "cli", "bin.js");
const NODE_FLOOR = join(REPO, "bench", "node-floor.mjs");
const SMOLVM_DOUBLE = join(REPO, "packages", "backend-smolmachines", "test", "fixtures", "smolvm");
const { values: flags } = parseArgs({
  options: {
    runs: { type: "string", default: "10" },
    // Another Node binary for claude-bottle, `node -e 0` and the floor (e.g. a newer major); default: the one on PATH.
    node: { type: "string", default: "node" },
  },
});
const NODE = flags.node;
const NODE_VERSION = execFileSync(NODE, ["--version"], { encoding: "utf8" }).trim();
const RUNS = Number(flags.runs);

const project = mkdtempSync(join(tmpdir(), "claude-bottle-bench-"));
// User-level agents: a project's would first need the user's approval.
const configHome = mkdtempSync(join(tmpdir(), "claude-bottle-bench-config-"));
const agentsDir = join(configHome, "claude-bottle", "agents");
mkdirSync(agentsDir, { recursive: true });
const context = busyboxContext();
const benchAgent = (network: string) =>
  `description: busybox agent for the benchmark\nbuild: { dockerfile: ${context}/Dockerfile, context: ${context} }\ncommand: [/bin/busybox]\nnetwork: ${network}\n`;
writeFileSync(join(agentsDir, "bench.yaml"), benchAgent("false"));
// The same agent with an egress policy: its own network and proxy on every start.
writeFileSync(join(agentsDir, "bench-egress.yaml"), benchAgent("{ allow: [api.example.com] }"));
const cacheHome = mkdtempSync(join(tmpdir(), "claude-bottle-bench-cache-"));
const env = {
  ...process.env,
  CI: "1",
  XDG_CACHE_HOME: cacheHome,
  XDG_CONFIG_HOME: configHome,
  XDG_STATE_HOME: mkdtempSync(join(tmpdir(), "claude-bottle-bench-state-")),
  CLAUDE_BOTTLE_BACKEND: "docker",
  // Docker Hub is out of reach here: the proxy runs in the offline stand-in for the official Node image.
  CLAUDE_BOTTLE_PROXY_IMAGE: buildTestNodeImage(),
};
const cli = (args) => [NODE, CLI, ...args];
const inProject = (extraEnv = {}) => ({ cwd: project, env: { ...env, ...extraEnv } });

const rows = [];
const baselinesShown = new Set();
/** A row for a case; its ratio against the baseline's median; the baseline's own row once. A row without target is for reading only. */
function report(name, caseSamples, baselineName, baselineSamples, target) {
  const measured = stats(caseSamples);
  const baseline = baselineSamples ? stats(baselineSamples) : undefined;
  const ratio = baseline ? measured.median / baseline.median : undefined;
  const met = ratio === undefined || target === undefined ? undefined : ratio <= target;
  rows.push({ name, ...measured, baseline: baselineName, baselineMedian: baseline?.median, ratio, target, met });
  if (baseline && !baselinesShown.has(baselineSamples)) rows.push({ name: `  baseline: ${baselineName}`, ...baseline });
  baselinesShown.add(baselineSamples);
}

console.error(`claude-bottle benchmark: ${RUNS} runs per case after a warm-up, Node ${NODE_VERSION}\n`);
if (process.env.NODE_EXTRA_CA_CERTS && Number(NODE_VERSION.slice(1).split(".")[0]) < 22) {
  // Node before 22 loads the extra CA file while it starts, before any code runs; 22 loads it on first use.
  console.error(`NODE_EXTRA_CA_CERTS is set: Node ${NODE_VERSION} reads it at start-up, which every Node case here includes (bench/README.md).\n`);
}

// 1. --version against node -e 0.
const [version, nodeAlone] = sampleInTurns([[cli(["--version"]), inProject()], [[NODE, "-e", "0"]]], { runs: RUNS });
report("claude-bottle --version", version, "node -e 0", nodeAlone, 2);

// 2. Warm start on docker against a bare docker run of the same image.
runOnce(cli(["start", "bench", "--", "true"]), inProject()); // builds once
const image = execFileSync("docker", ["image", "ls", "claude-bottle/bench", "--format", "{{.Repository}}:{{.Tag}}"], { encoding: "utf8" }).split("\n")[0];
if (!image) throw new Error("the docker backend left no claude-bottle/bench image to compare against");
const [warmStart, bareRun, nodeFloorRun] = sampleInTurns(
  [[cli(["start", "bench", "--", "true"]), inProject()], [["docker", "run", "--rm", "--network", "none", image, "true"]], [[NODE, NODE_FLOOR, "run", image]]],
  { runs: RUNS },
);
report("warm start (docker) -- true", warmStart, "docker run --rm <same image> true", bareRun, 1.3);
// What any Node program pays for the same engine calls, against the same baseline: the floor under the ratio above.
report("  floor: node bench/node-floor.mjs run", nodeFloorRun, "docker run", bareRun);

// 2a. A warm start with an egress policy (network, proxy container, readiness) against one without, in turns.
runOnce(cli(["start", "bench-egress", "--", "true"]), inProject());
const [withPolicy, withoutPolicy] = sampleInTurns(
  [[cli(["start", "bench-egress", "--", "true"]), inProject()], [cli(["start", "bench", "--", "true"]), inProject()]],
  { runs: RUNS },
);
report("warm start with an egress policy", withPolicy, "warm start without network", withoutPolicy, 1.15);

// 2b'. What a bottle's egress costs in memory: its proxy and its anchor, idle and under 100 open requests (MB, not ms).
const held = runOnce(cli(["start", "bench-egress", "--detach", "--", "sleep", "600"]), inProject()).stdout.trim().split("\n").pop();
try {
  const memory = await egressMemoryUnderLoad(held);
  const mb = (m) => `RSS ${m.rss.toFixed(1)} MB, PSS ${m.pss.toFixed(1)} MB`;
  console.error(`egress memory: proxy idle ${mb(memory.idle.proxy)}; under 100 requests ${mb(memory.peak)}; anchor idle ${mb(memory.idle.anchor)} (target 30 MB per bottle)\n`);
  rows.push({ name: "  proxy RSS idle (MB, not ms)", median: memory.idle.proxy.rss }, { name: "  proxy RSS under 100 requests (MB)", median: memory.peak.rss });
  rows.push({ name: "  proxy + anchor PSS idle (MB)", median: memory.idle.proxy.pss + memory.idle.anchor.pss });
} finally {
  spawnSync(NODE, [CLI, "rm", "-f", held], inProject());
}

// 2b. The same as a person runs it: on a terminal (a pseudo-terminal from script(1), sized like a window), not in CI.
const onTerminal = (command: string) => ["script", "-qec", `stty rows 30 cols 100; ${command}`, "/dev/null"];
const [terminalStart, terminalRun] = sampleInTurns(
  [[onTerminal(`${NODE} ${CLI} start bench -- true`), inProject({ CI: "" })], [onTerminal(`docker run --rm -it --network none ${image} true`)]],
  { runs: RUNS },
);
report("warm start (docker) on a terminal", terminalStart, "docker run --rm -it <same image> true, on a terminal", terminalRun, 1.3);

// 3. smolmachines: cold prepare by phase, warm prepare as a fraction of cold (test double).
const registryImage = await buildTestRegistryImage();
const smolEnv = { CLAUDE_BOTTLE_BACKEND: "smolmachines", CLAUDE_BOTTLE_SMOLVM: SMOLVM_DOUBLE, CLAUDE_BOTTLE_REGISTRY_IMAGE: registryImage };
// The CLI's own "prepare" phase wraps everything the backend's prepare does (build, cache check, registry, push, pack).
const prepareMs = (timing) => timing.phases.find((p) => p.phase === "prepare").durationMs;
const timed = (extraEnv) => {
  const { stderr } = runOnce(cli(["start", "bench", "--timing=json", "--", "true"]), inProject(extraEnv));
  return JSON.parse(stderr.slice(stderr.indexOf("{")));
};
const cold = [];
const coldPhases = {};
for (let i = 0; i < Math.max(3, Math.ceil(RUNS / 3)); i++) {
  rmSync(join(cacheHome, "claude-bottle", "smolmachines"), { recursive: true, force: true });
  // Cold means the image too: remove it with its layers, so the build really runs.
  const images = execFileSync("docker", ["image", "ls", "-q", "claude-bottle/bench"], { encoding: "utf8" }).split("\n").filter(Boolean);
  if (images.length) spawnSync("docker", ["image", "rm", "-f", ...new Set(images)]);
  const timing = timed(smolEnv);
  cold.push(prepareMs(timing));
  for (const p of timing.phases.filter((p) => p.depth > 0)) (coldPhases[p.phase] ??= []).push(p.durationMs);
}
const warm = Array.from({ length: RUNS }, () => prepareMs(timed(smolEnv)));
report("smolmachines cold prepare (smolvm test double)", cold);
for (const [phaseName, values] of Object.entries(coldPhases)) rows.push({ name: `  cold phase: ${phaseName}`, ...stats(values) });
report("smolmachines warm prepare (smolvm test double)", warm, "cold prepare", cold, 0.05);

// 4. ls with 20 bottles running against docker ps with the same label filter.
const started = [];
try {
  for (let i = 0; i < 20; i++) {
    started.push(runOnce(cli(["start", "bench", "--detach", "--", "sleep", "600"]), inProject()).stdout.trim().split("\n").pop());
  }
  const [list, dockerPs, nodeFloorPs] = sampleInTurns(
    [[cli(["ls"]), inProject()], [["docker", "ps", "--filter", "label=dev.claude-bottle"]], [[NODE, NODE_FLOOR, "ps"]]],
    { runs: RUNS },
  );
  report("claude-bottle ls (20 bottles)", list, "docker ps --filter label=dev.claude-bottle", dockerPs, 2);
  report("  floor: node bench/node-floor.mjs ps", nodeFloorPs, "docker ps", dockerPs);
} finally {
  for (const name of started) spawnSync(NODE, [CLI, "rm", "-f", name], inProject());
}

// 5. A real Claude Code's first screen on a terminal, when its image has been built (shared/claude-image/build.sh).
// Its egress case needs the proxy's image: the offline stand-in, as above.
spawnSync(NODE, [join(REPO, "bench", "first-screen.mjs"), "--runs", String(RUNS), "--node", NODE], { stdio: "inherit", env: { ...process.env, CLAUDE_BOTTLE_PROXY_IMAGE: env.CLAUDE_BOTTLE_PROXY_IMAGE } });

// 6. The egress proxy on its own: 100 HTTPS requests through it against the same requests made directly.
spawnSync(NODE, [join(REPO, "packages", "egress-proxy", "bench", "https-through-proxy.mjs"), "--rounds", String(Math.max(3, Math.ceil(RUNS / 2)))], { stdio: "inherit" });

// The table, then the JSON for comparing runs.
const fmt = (n) => (n === undefined ? "" : n.toFixed(1));
console.log(["case".padEnd(52), "median ms".padStart(10), "min".padStart(8), "max".padStart(8), "ratio".padStart(7), "target".padStart(7), ""].join(" "));
for (const r of rows) {
  const verdict = r.met === undefined ? "" : r.met ? "met" : "MISSED";
  console.log([r.name.padEnd(52), fmt(r.median).padStart(10), fmt(r.min).padStart(8), fmt(r.max).padStart(8), (r.ratio ? `${r.ratio.toFixed(2)}×` : "").padStart(7), (r.target ? `≤${r.target}` : "").padStart(7), verdict].join(" "));
}
const dockerVersion = execFileSync("docker", ["version", "--format", "{{.Server.Version}}"], { encoding: "utf8" }).trim();
const results = { date: new Date().toISOString(), cpus: cpus().length, node: NODE_VERSION, docker: dockerVersion, runs: RUNS, rows };
mkdirSync(join(REPO, "bench", "results"), { recursive: true });
const file = join(REPO, "bench", "results", `${results.date.replace(/[:.]/g, "-")}.json`);
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
console.log(`\nresults: ${file}`);
rmSync(project, { recursive: true, force: true });
