import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, existsSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connectDocker } from "@claude-bottle/docker-engine";
import type { ProgressEvent } from "@claude-bottle/core";
import type Dockerode from "dockerode";
import { RegistryLabels } from "../src/registry/local-registry.js";

/** The smolvm test double (see SMOLVM.md): real pulls with skopeo, real chrooted runs. */
export const SMOLVM_DOUBLE = fileURLToPath(new URL("./fixtures/smolvm", import.meta.url));

/** The smolvm this run's double imitates (a vitest project per version sets it; see vitest.config.ts). */
export const DOUBLE_VERSION = process.env.SMOLVM_DOUBLE_VERSION ?? "1.9.2";
/** Whether it is the newer command line (egress floor, credentials, pause, numeric created_at). */
export const NEWER_DOUBLE = !DOUBLE_VERSION.startsWith("1.9.");

/**
 * An agent slug of this run: the base and the run's suffix (set by
 * global-setup.ts), so runs sharing an engine never share (or remove) each
 * other's images.
 */
export function testSlug(base: string): string {
  return `${base}-${process.env.SMOL_TEST_SLUG_SUFFIX ?? process.pid}`;
}

/** The engine the tests run against; a missing engine fails the suite (it is not skipped). */
export async function engine(): Promise<Dockerode> {
  return (await connectDocker()).docker;
}

/** A fresh state directory for the double, which it reads from its environment (inherited from ours). */
export function useDoubleState(): string {
  const dir = mkdtempSync(join(tmpdir(), "smolvm-double-state-"));
  process.env.SMOLVM_DOUBLE_STATE = dir;
  return dir;
}

/** One command the double was given: its argv and the egress floor it ran under (never an environment value). */
export interface Invocation {
  argv: string[];
  floor?: string;
}

/** Every command the double was given, in order. */
export function invocationRecords(stateDir: string): Invocation[] {
  const file = join(stateDir, "invocations.jsonl");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Invocation);
}

/** Every command line the double was given, in order. */
export function invocations(stateDir: string): string[][] {
  return invocationRecords(stateDir).map((record) => record.argv);
}

export const packInvocations = (stateDir: string) => invocations(stateDir).filter((argv) => argv[0] === "pack");

// Registries are counted by owner: other test processes on the same engine may run their own meanwhile.
const OWN_REGISTRIES = [`${RegistryLabels.role}=local-registry`, `${RegistryLabels.ownerPid}=${process.pid}`];

/** This process's registry containers on the engine, running or not. */
export async function registryContainers(docker: Dockerode): Promise<Dockerode.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: OWN_REGISTRIES } });
}

/** This process's registry containers created since an instant (engine events, not a listing). */
export async function registryCreations(docker: Dockerode, sinceMs: number): Promise<number> {
  const stream = (await docker.getEvents({
    since: Math.floor(sinceMs / 1000),
    until: Math.ceil(Date.now() / 1000) + 1,
    filters: { type: ["container"], event: ["create"], label: OWN_REGISTRIES },
  })) as NodeJS.ReadableStream;
  let text = "";
  for await (const chunk of stream) text += chunk.toString();
  // The engine's `since` is whole seconds: drop what happened earlier in that second (a cold prepare just before).
  const sinceNs = BigInt(Math.floor(sinceMs)) * 1_000_000n;
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .filter((line) => BigInt((JSON.parse(line) as { timeNano: number }).timeNano) >= sinceNs).length;
}

/** Temporary tags left in the engine for a cache key. */
export async function temporaryTags(docker: Dockerode, key: string): Promise<string[]> {
  const images = await docker.listImages();
  return images.flatMap((i) => i.RepoTags ?? []).filter((tag) => tag.endsWith(`/claude-bottle:${key}`));
}

/** The phases that started, in order. */
export function startedPhases(events: readonly ProgressEvent[]): string[] {
  return events.filter((e) => e.type === "phase-start").map((e) => (e as { phase: string }).phase);
}

/** A fake smolvm: a shell script with the given body, in a directory of its own. */
export function fakeSmolvm(body: string): string {
  const dir = mkdtempSync(join(tmpdir(), "fake-smolvm-"));
  const path = join(dir, "smolvm");
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

/**
 * Runs a fixture of test/fixtures (a script that holds at some point so that
 * it can be SIGKILLed there) with `args`, until it prints `marker` or
 * "finished". Resolves with the process, what it printed, and its exit.
 */
export async function holdFixture(
  fixture: string,
  args: readonly string[],
  marker: string,
): Promise<{ child: ChildProcess; output: string; exited: Promise<unknown[]> }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL(`./fixtures/${fixture}`, import.meta.url)), ...args], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env },
  });
  const exited = once(child, "exit");
  let output = "";
  for await (const chunk of child.stdout!) {
    output += String(chunk);
    if (output.includes(`${marker}\n`) || output.includes("finished\n")) break;
  }
  return { child, output, exited };
}
