import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { setTimeout as delay } from "node:timers/promises";
import { Labels } from "@claude-bottle/core";
import { busyboxContext } from "@claude-bottle/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleForChildProcess } from "./support/bundle.js";
import { removeHomesOfAgents, testEngine, uniqueSuffix, useTestEngine } from "./support/engine.js";

const suffix = uniqueSuffix();
const slug = `terminal-test-${suffix}`;
const session = `claude-bottle-test-${suffix}`;
const tmux = (...args: string[]) => execFileSync("tmux", ["-L", session, ...args], { encoding: "utf8" });

/** Polls the pane until `text` shows up: a wait on a condition, bounded only by the test's timeout. */
async function paneShows(text: string): Promise<string> {
  for (;;) {
    const pane = tmux("capture-pane", "-p", "-J", "-t", session);
    if (pane.includes(text)) return pane;
    await delay(100);
  }
}

const inTheBottle = [
  "echo ready",
  'read want; until [ "$(stty size)" = "$want" ]; do sleep 0.1; done; echo "sized:$want"',
  'read want; until [ "$(stty size)" = "$want" ]; do sleep 0.1; done; echo "sized:$want"',
  "read line; echo got:$line",
  'trap "echo caught-interrupt; exit 9" INT',
  "echo waiting-for-ctrl-c; while :; do sleep 0.1; done",
].join("\n");

let dir: string;
let results: string;

useTestEngine(() => {});

beforeAll(async () => {
  const bundle = await bundleForChildProcess("terminal");
  const context = busyboxContext(`LABEL test.suffix=${suffix}`);
  dir = mkdtempSync(join(tmpdir(), "claude-bottle-terminal-"));
  results = join(dir, "results.json");
  // The launch as the CLI makes it: the process's own stdio, which here is a real terminal.
  writeFileSync(
    join(dir, "start.mjs"),
    `
    import { execFileSync } from "node:child_process";
    import { writeFileSync } from "node:fs";
    import createDockerBackend from ${JSON.stringify(bundle)};
    import { testSpec } from ${JSON.stringify(pathToFileURL(createRequire(import.meta.url).resolve("@claude-bottle/core/testing")).href)};
    const terminalMode = () => execFileSync("stty", ["-g"], { stdio: ["inherit", "pipe", "inherit"], encoding: "utf8" }).trim();
    const before = terminalMode();
    const backend = createDockerBackend();
    const ctx = { emit() {}, signal: new AbortController().signal, cacheDir: ${JSON.stringify(dir)}, env: process.env, cwd: process.cwd(),
      logger: { debug() {}, info() {}, warn() {} } };
    const agent = { slug: ${JSON.stringify(slug)}, origin: "project",
      image: { kind: "build", dockerfile: ${JSON.stringify(join(context, "Dockerfile"))}, context: ${JSON.stringify(context)}, args: {} },
      command: ["sh", "-c", ${JSON.stringify(inTheBottle)}], args: [], workspace: ${JSON.stringify(dir)}, mounts: [], env: [], network: false, resources: {} };
    const launched = await backend.launch(await backend.prepare(testSpec(agent), ctx), { extraArgs: [], detach: false, stdio: process }, ctx);
    writeFileSync(${JSON.stringify(results)}, JSON.stringify({ launched, restored: terminalMode() === before, stdinIsTTY: process.stdin.isTTY === true }));
    console.log("start-finished");
    process.exit(launched.exitCode);
    `,
  );
}, 180_000);

afterAll(async () => {
  try {
    tmux("kill-server");
  } catch {
    // The server is gone already when the session ended by itself.
  }
  await removeHomesOfAgents(await testEngine(), slug);
});

describe("an attached start in a real terminal (tmux)", () => {
  it("passes output, typed input, resizes and Ctrl-C through; returns the exit code; restores the terminal; removes the bottle", async () => {
    tmux("-f", "/dev/null", "new-session", "-d", "-s", session, "-x", "100", "-y", "40", `node ${join(dir, "start.mjs")}; echo child-exit:$?; sleep 600`);
    tmux("set-option", "-t", session, "status", "off");
    await paneShows("ready");

    const size = () => tmux("display-message", "-p", "-t", session, "#{pane_height} #{pane_width}").trim();
    tmux("send-keys", "-t", session, size(), "Enter");
    await paneShows(`sized:${size()}`);

    tmux("resize-window", "-t", session, "-x", "120", "-y", "50");
    expect(size()).toBe("50 120");
    tmux("send-keys", "-t", session, "50 120", "Enter");
    await paneShows("sized:50 120");

    tmux("send-keys", "-t", session, "typed words", "Enter");
    await paneShows("got:typed words");
    await paneShows("waiting-for-ctrl-c");
    tmux("send-keys", "-t", session, "C-c");

    const pane = await paneShows("child-exit:");
    expect(pane).toContain("caught-interrupt");
    expect(pane).toContain("child-exit:9");
    expect(existsSync(results)).toBe(true);
    const outcome = JSON.parse(readFileSync(results, "utf8")) as { launched: { exitCode: number }; restored: boolean; stdinIsTTY: boolean };
    expect(outcome).toMatchObject({ launched: { detached: false, exitCode: 9 }, restored: true, stdinIsTTY: true });

    const docker = await testEngine();
    expect(await docker.listContainers({ all: true, filters: { label: [`${Labels.agent}=${slug}`] } })).toEqual([]);
    for (const image of await docker.listImages({ filters: { reference: [`claude-bottle/${slug}`] } })) {
      await docker.getImage(image.Id).remove({ force: true });
    }
    await docker.getVolume(`claude-bottle-home-${slug}`).remove().catch(() => {});
  }, 240_000);
});
