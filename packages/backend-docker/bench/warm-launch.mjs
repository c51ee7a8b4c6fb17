// Warm `start <agent> -- true` through this backend, against a bare `docker run --rm <same image> true`.
// Each sample is a fresh Node process, as a CLI invocation is; the child also reports how long
// importing this package and prepare + launch took inside it. Run after `pnpm build`:
//   node bench/warm-launch.mjs [samples]
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const samples = Number(process.argv[2] ?? 15);
const dist = new URL("../dist/index.js", import.meta.url).href;

const context = mkdtempSync(join(tmpdir(), "claude-bottle-bench-"));
copyFileSync("/bin/busybox", join(context, "busybox"));
writeFileSync(
  join(context, "Dockerfile"),
  'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nCMD ["/bin/sh"]\nLABEL bench=warm-launch\n',
);
const workspace = mkdtempSync(join(tmpdir(), "claude-bottle-bench-ws-"));
const cacheDir = mkdtempSync(join(tmpdir(), "claude-bottle-bench-cache-"));
// Its own agent name, so that no other run's builds replace this run's image.
const slug = `bench-${process.pid}`;
const launchOnce = `
  const started = performance.now();
  const { createDockerBackend } = await import(${JSON.stringify(dist)});
  const { testSpec } = await import("@claude-bottle/core/testing");
  const imported = performance.now();
  const { PassThrough } = await import("node:stream");
  const backend = createDockerBackend();
  const ctx = { emit() {}, signal: new AbortController().signal, cacheDir: ${JSON.stringify(cacheDir)}, env: process.env,
    cwd: process.cwd(), logger: { debug() {}, info() {}, warn() {} } };
  const agent = { slug: ${JSON.stringify(slug)}, origin: "project", image: { kind: "build", dockerfile: ${JSON.stringify(join(context, "Dockerfile"))},
    context: ${JSON.stringify(context)}, args: {} }, command: ["true"], args: [], workspace: ${JSON.stringify(workspace)}, mounts: [],
    env: [], network: false, resources: {} };
  const stdin = new PassThrough();
  stdin.end();
  const launched = await backend.launch(await backend.prepare(testSpec(agent), ctx), { extraArgs: [], detach: false,
    stdio: { stdin, stdout: process.stdout, stderr: process.stderr } }, ctx);
  if (launched.exitCode !== 0) process.exit(1);
  console.log(JSON.stringify({ importSeconds: (imported - started) / 1000, launchSeconds: (performance.now() - imported) / 1000 }));
`;
const node = (script) => {
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`a launch failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
};

// The first launch builds the image; every sample after it is warm.
node(launchOnce);
const image = execFileSync("docker", ["images", "--format", "{{.Repository}}:{{.Tag}}", `claude-bottle/${slug}`], { encoding: "utf8" }).split("\n")[0];

const time = (run) => {
  const start = process.hrtime.bigint();
  const value = run();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, value };
};
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const bare = [];
const warm = [];
const imports = [];
const launches = [];
const nodeAlone = [];
for (let i = 0; i < samples; i++) {
  bare.push(time(() => execFileSync("docker", ["run", "--rm", "--network", "none", image, "true"])).seconds);
  const sample = time(() => node(launchOnce));
  warm.push(sample.seconds);
  imports.push(sample.value.importSeconds);
  launches.push(sample.value.launchSeconds);
  nodeAlone.push(time(() => spawnSync(process.execPath, ["-e", "0"])).seconds);
}
const ratio = (value) => `${(value / median(bare)).toFixed(2)}x`;
console.log(`image ${image}, ${samples} samples each, medians:`);
console.log(`  docker run --rm <image> true        ${median(bare).toFixed(3)} s`);
console.log(`  warm launch, a fresh node process   ${median(warm).toFixed(3)} s  ${ratio(median(warm))}`);
console.log(`    of which: import of this package  ${median(imports).toFixed(3)} s`);
console.log(`              prepare + launch        ${median(launches).toFixed(3)} s  ${ratio(median(launches))}`);
console.log(`  node -e 0                           ${median(nodeAlone).toFixed(3)} s`);
execFileSync("docker", ["rmi", image], { stdio: "ignore" });
// The agent's home (one per project: its name ends in a hash of the workspace), found by its label.
const homes = execFileSync("docker", ["volume", "ls", "-q", "--filter", `label=dev.claude-bottle.agent=${slug}`], { encoding: "utf8" }).split("\n").filter(Boolean);
if (homes.length) execFileSync("docker", ["volume", "rm", ...homes], { stdio: "ignore" });
for (const dir of [context, workspace, cacheDir]) rmSync(dir, { recursive: true, force: true });
