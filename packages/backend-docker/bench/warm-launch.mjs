// Warm `start <agent> -- true` through this backend, against a bare `docker run --rm <same image> true`.
// Each sample is a fresh Node process, as a CLI invocation is. Run after `pnpm build`:
//   node bench/warm-launch.mjs [samples]
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const samples = Number(process.argv[2] ?? 15);
const dist = new URL("../dist/index.js", import.meta.url).href;

const context = mkdtempSync(join(tmpdir(), "claude-bottle-bench-"));
copyFileSync("/bin/busybox", join(context, "busybox"));
writeFileSync(
  join(context, "Dockerfile"),
  'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nCMD ["/bin/sh"]\n',
);
const workspace = mkdtempSync(join(tmpdir(), "claude-bottle-bench-ws-"));
const launchOnce = `
  import { createDockerBackend } from ${JSON.stringify(dist)};
  const backend = createDockerBackend();
  const ctx = { emit() {}, signal: new AbortController().signal, cacheDir: ${JSON.stringify(tmpdir())}, env: process.env, cwd: process.cwd(),
    logger: { debug() {}, info() {}, warn() {} } };
  const agent = { slug: "bench", origin: "project", image: { kind: "build", dockerfile: ${JSON.stringify(join(context, "Dockerfile"))},
    context: ${JSON.stringify(context)}, args: {} }, command: ["true"], args: [], workspace: ${JSON.stringify(workspace)}, mounts: [], env: [],
    network: false, resources: {} };
  const { PassThrough } = await import("node:stream");
  const stdin = new PassThrough(); stdin.end();
  const launched = await backend.launch(await backend.prepare(agent, ctx), { extraArgs: [], detach: false,
    stdio: { stdin, stdout: process.stdout, stderr: process.stderr } }, ctx);
  if (launched.exitCode !== 0) process.exit(1);
`;
const node = (script) => spawnSync(process.execPath, ["--input-type=module", "-e", script], { stdio: "inherit", cwd: new URL("..", import.meta.url).pathname });

// The cold launch builds the image; every sample after it is warm.
if (node(launchOnce).status !== 0) throw new Error("the first launch failed");
const image = execFileSync("docker", ["images", "--format", "{{.Repository}}:{{.Tag}}", "claude-bottle/bench"], { encoding: "utf8" }).split("\n")[0];

const time = (run) => {
  const start = process.hrtime.bigint();
  run();
  return Number(process.hrtime.bigint() - start) / 1e9;
};
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const bare = [];
const warm = [];
const nodeAlone = [];
for (let i = 0; i < samples; i++) {
  bare.push(time(() => execFileSync("docker", ["run", "--rm", "--network", "none", image, "true"])));
  warm.push(time(() => node(launchOnce)));
  nodeAlone.push(time(() => spawnSync(process.execPath, ["-e", "0"])));
}
const ratio = median(warm) / median(bare);
console.log(`image ${image}, ${samples} samples each, medians:`);
console.log(`  docker run --rm <image> true   ${median(bare).toFixed(3)} s`);
console.log(`  warm launch through backend    ${median(warm).toFixed(3)} s  (${ratio.toFixed(2)}x)`);
console.log(`  node -e 0                      ${median(nodeAlone).toFixed(3)} s`);
