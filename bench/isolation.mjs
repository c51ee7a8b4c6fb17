// runc against gVisor, in one run, interleaved (A, B, A, B...): the ratios decide the docker
// backend's default isolation (packages/backend-docker/README.md, "gVisor").
//   node bench/isolation.mjs [--image local/claude-code] [--runs 5]
// Needs the engine's runsc runtime (.ci/run registers it) and the image from shared/claude-image/build.sh.
// Cases: a bare `docker run --rm … true`; the time to a real Claude Code's first screen through
// `claude-bottle start --isolation …` on a terminal (tmux); and, timed inside the bottle, `git status`
// on a 50k-file repository and a vitest run of core's agent tests from this checkout.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values: flags } = parseArgs({ options: { image: { type: "string", default: "local/claude-code" }, runs: { type: "string", default: "5" } } });
const ROOT = join(import.meta.dirname, "..");
const CLI = join(ROOT, "packages", "cli", "bin.js");
const MARKER = "Welcome to Claude Code";
const ISOLATIONS = ["runc", "gvisor"];

if (spawnSync("docker", ["image", "inspect", flags.image], { stdio: "ignore" }).status !== 0) {
  console.error(`isolation: no image ${flags.image}; build it with shared/claude-image/build.sh (as root, ~2 minutes).`);
  process.exit(0);
}
if (!execFileSync("docker", ["info", "--format", "{{json .Runtimes}}"], { encoding: "utf8" }).includes('"runsc"')) {
  console.error("isolation: the engine has no runsc runtime; see packages/backend-docker/README.md, \"gVisor\".");
  process.exit(0);
}

const config = mkdtempSync(join(tmpdir(), "claude-bottle-isolation-bench-"));
mkdirSync(join(config, "claude-bottle", "agents"), { recursive: true });
writeFileSync(join(config, "claude-bottle", "agents", "real-claude.yaml"), `image: ${flags.image}\ncommand: [claude]\nnetwork: false\n`);
writeFileSync(join(config, "claude-bottle", "agents", "timed.yaml"), `image: ${flags.image}\ncommand: [sh, -c]\nnetwork: false\n`);
const env = { ...process.env, XDG_CONFIG_HOME: config, XDG_STATE_HOME: join(config, "state"), XDG_CACHE_HOME: join(config, "cache"), XDG_DATA_HOME: join(config, "data") };
const project = mkdtempSync(join(tmpdir(), "claude-bottle-isolation-project-"));

// 50,000 files in 500 directories, committed: `git status` lstat()s each of them.
const big = mkdtempSync(join(tmpdir(), "claude-bottle-isolation-50k-"));
for (let d = 0; d < 500; d++) {
  mkdirSync(join(big, `d${d}`));
  for (let f = 0; f < 100; f++) writeFileSync(join(big, `d${d}`, `f${f}.txt`), `${d}/${f}\n`);
}
const git = (...args) => execFileSync("git", ["-c", "user.name=bench", "-c", "user.email=bench@example.com", ...args], { cwd: big, stdio: "ignore" });
git("init", "-q");
git("add", ".");
git("commit", "-q", "-m", "50k files");

/** Only this run's bottles are removed: the engine is shared. */
function removeOwnBottles() {
  for (const workspace of [project, big, ROOT]) {
    spawnSync("sh", ["-c", `docker ps -aq --filter label=dev.claude-bottle.workspace=${workspace} | xargs -r docker rm -f`], { stdio: "ignore" });
  }
}

function firstScreen(isolation) {
  const socket = `cb-isolation-bench-${process.pid}`;
  const tmux = (...args) => execFileSync("tmux", ["-L", socket, ...args], { encoding: "utf8" });
  const vars = Object.entries(env).filter(([k]) => k.startsWith("XDG_")).map(([k, v]) => `${k}=${v}`).join(" ");
  const started = performance.now();
  tmux("new-session", "-d", "-s", "m", "-x", "120", "-y", "40", `cd ${project} && env ${vars} node ${CLI} start --isolation ${isolation} real-claude; sleep 30`);
  try {
    for (;;) {
      if (tmux("capture-pane", "-p", "-t", "m").includes(MARKER)) return performance.now() - started;
      if (performance.now() - started > 120_000) throw new Error(`no first screen after 120 s under ${isolation}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  } finally {
    tmux("kill-server");
    removeOwnBottles();
  }
}

/** Milliseconds the script itself took inside a bottle on `workspace`, as it prints them. */
function inside(isolation, workspace, script) {
  const timed = `s=$(date +%s%N); ${script} >/dev/null 2>&1 || echo FAILED >&2; e=$(date +%s%N); echo $(( (e - s) / 1000000 ))`;
  const out = execFileSync("node", [CLI, "start", "--isolation", isolation, "timed", "--", timed], { cwd: workspace, env, encoding: "utf8" });
  return Number(out.trim().split("\n").at(-1));
}

function bareRun(isolation) {
  const started = performance.now();
  execFileSync("docker", ["run", "--rm", "--network", "none", `--runtime=${isolation === "gvisor" ? "runsc" : "runc"}`, flags.image, "true"], { stdio: "ignore" });
  return performance.now() - started;
}

const cases = {
  "docker run --rm … true": bareRun,
  "first screen (claude-bottle start)": firstScreen,
  "git status, 50k files (inside)": (isolation) => inside(isolation, big, "git status --porcelain"),
  "vitest run core/test/agents.test.ts (inside)": (isolation) =>
    inside(isolation, ROOT, "cd /workspace/packages/core && node /workspace/node_modules/vitest/vitest.mjs run test/agents.test.ts"),
};

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const results = {};
for (const [name, measure] of Object.entries(cases)) {
  for (const isolation of ISOLATIONS) measure(isolation); // warm-up: page cache, homes, images
  const samples = { runc: [], gvisor: [] };
  for (let i = 0; i < Number(flags.runs); i++) for (const isolation of ISOLATIONS) samples[isolation].push(measure(isolation));
  results[name] = samples;
  const [runc, gvisor] = ISOLATIONS.map((isolation) => median(samples[isolation]));
  console.log(`${name.padEnd(46)} runc ${runc.toFixed(0).padStart(6)} ms   gvisor ${gvisor.toFixed(0).padStart(6)} ms   ${(gvisor / runc).toFixed(2)}x`);
}
const homes = execFileSync("node", [CLI, "ls", "--homes", "--json"], { env, encoding: "utf8" });
for (const home of JSON.parse(homes)) if ([project, big, ROOT].includes(home.project)) spawnSync("node", [CLI, "rm", "--home", home.name], { env, stdio: "ignore" });
console.log(JSON.stringify({ runs: Number(flags.runs), image: flags.image, results }));
for (const dir of [config, project, big]) rmSync(dir, { recursive: true, force: true });
