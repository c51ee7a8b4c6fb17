#!/usr/bin/env node
// What a test run left in the Docker engine.
//
//   node scripts/engine-leftovers.mjs save FILE    before the tests: the engine's containers, volumes, networks, images and tags
//   node scripts/engine-leftovers.mjs check FILE   after: fails (exit 1) listing what this run made and did not remove
//
// The engine may be shared with other runs going on at the same time, so only
// what this run made counts: everything made while CLAUDE_BOTTLE_TEST_RUN is
// set carries the label dev.claude-bottle.test-run=<that id> (containers,
// home volumes, built images, registries), and a tag counts when it is new and
// names one of those images. Other new objects are reported, not failed on.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";

const LABEL = "dev.claude-bottle.test-run";
const [command, file] = process.argv.slice(2);
const run = process.env.CLAUDE_BOTTLE_TEST_RUN;
if (!["save", "check"].includes(command) || !file || !run) {
  console.error("usage: CLAUDE_BOTTLE_TEST_RUN=<id> node scripts/engine-leftovers.mjs save|check FILE");
  process.exit(2);
}

const docker = (...args) => execFileSync("docker", args, { encoding: "utf8" }).split("\n").filter(Boolean);
const kinds = {
  containers: (filter) => docker("ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}}", ...filter),
  volumes: (filter) => docker("volume", "ls", "--format", "{{.Name}}", ...filter),
  networks: (filter) => docker("network", "ls", "--no-trunc", "--format", "{{.ID}} {{.Name}}", ...filter),
  images: (filter) => docker("images", "-a", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}", ...filter),
};
const snapshot = () => ({
  ...Object.fromEntries(Object.entries(kinds).map(([kind, list]) => [kind, list([])])),
  // Full IDs, as `images -a --no-trunc` gives them, so a tag is matched to the image of ours it names.
  tags: docker("images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").filter((line) => !line.startsWith("<none>:<none>")),
});

if (command === "save") {
  writeFileSync(file, JSON.stringify(snapshot()));
  process.exit(0);
}

const before = JSON.parse(readFileSync(file, "utf8"));
const after = snapshot();
const ours = Object.fromEntries(Object.entries(kinds).map(([kind, list]) => [kind, list(["--filter", `label=${LABEL}=${run}`])]));
const ourImageIds = new Set(ours.images.map((line) => line.split(" ")[0].replace(/^sha256:/, "")));
const left = {
  ...Object.fromEntries(Object.entries(ours).map(([kind, lines]) => [kind, lines.filter((line) => !before[kind].includes(line))])),
  tags: after.tags.filter((line) => !before.tags.includes(line) && ourImageIds.has(line.split(" ")[1].replace(/^sha256:/, ""))),
};
// An image of ours that still has a tag is reported once, by its tag.
const taggedIds = new Set(left.tags.map((line) => line.split(" ")[1].replace(/^sha256:/, "")));
left.images = left.images.filter((line) => !taggedIds.has(line.split(" ")[0].replace(/^sha256:/, "")));

// Everything this run builds carries its label from its first step on, so what is new and unlabelled
// was made by someone else on the same engine; named, so a fixture that lost its label is found.
const isOurs = (kind, line) => (kind === "tags" ? ourImageIds.has(line.split(" ")[1].replace(/^sha256:/, "")) : ours[kind].includes(line));
const others = Object.entries(after)
  .map(([kind, lines]) => [kind, lines.filter((line) => !before[kind].includes(line) && !isOurs(kind, line))])
  .filter(([, lines]) => lines.length > 0);
if (others.length) {
  console.error(`engine: new since the run began but not made by it (another run on the same engine?): ${others.map(([k, lines]) => `${lines.length} ${k}`).join(", ")}`);
  for (const [kind, lines] of others) for (const line of lines.slice(0, 5)) console.error(`  ${kind.padEnd(10)} ${line}`);
}
const total = Object.values(left).reduce((n, lines) => n + lines.length, 0);
if (total === 0) {
  console.error(`engine: run ${run} left nothing behind (containers, volumes, networks, images, tags).`);
  process.exit(0);
}
console.error(`engine: run ${run} left ${total} object(s) behind:`);
for (const [kind, lines] of Object.entries(left)) for (const line of lines) console.error(`  ${kind.padEnd(10)} ${line}`);
process.exit(1);
