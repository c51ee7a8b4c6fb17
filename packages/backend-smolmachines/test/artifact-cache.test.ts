import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { ErrorCodes } from "@claude-bottle/core";
import { describe, expect, it } from "vitest";
import { ArtifactCache, artifactCacheDir, cacheKeyOf } from "../src/pipeline/artifact-cache.js";

const fresh = () => new ArtifactCache(artifactCacheDir(mkdtempSync(join(tmpdir(), "smol-cache-"))));
const live = new AbortController().signal;

describe("cacheKeyOf", () => {
  it("is the first 16 hex characters of the image ID", () => {
    expect(cacheKeyOf(`sha256:${"0123456789abcdef".repeat(4)}`)).toBe("0123456789abcdef");
    expect(() => cacheKeyOf("sha256:short")).toThrow(/Not a sha256 image ID/);
  });
});

describe("ArtifactCache", () => {
  it("finds an artifact only when both the .smolmachine and the stub are there", async () => {
    const cache = fresh();
    const staging = await cache.staging("k1");
    writeFileSync(join(staging, "k1.smolmachine"), "machine");
    writeFileSync(join(staging, "k1"), "#!/bin/sh\n");
    expect(await cache.lookup("k1")).toBeUndefined();
    const artifact = await cache.commit(staging, "k1");
    expect(await cache.lookup("k1")).toEqual(artifact);
    expect(readdirSync(staging)).toEqual([]);

    const half = fresh();
    mkdirSync(half.dir, { recursive: true });
    writeFileSync(half.paths("k2").machine, "machine");
    expect(await half.lookup("k2")).toBeUndefined();
  });

  it("clears staging directories a killed run left for the same key", async () => {
    const cache = fresh();
    const left = await cache.staging("k3");
    const next = await cache.staging("k3");
    expect(existsSync(left)).toBe(false);
    expect(existsSync(next)).toBe(true);
  });

  it("lets one holder in at a time: the next one waits until the lock is released", async () => {
    const cache = fresh();
    const first = await cache.lock("k4", live);
    let waited = false;
    let secondIn = false;
    const second = cache.lock("k4", live, () => (waited = true)).then((lock) => {
      secondIn = true;
      return lock;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(secondIn).toBe(false);
    await first.release();
    await (await second).release();
    expect(waited).toBe(true);
    expect(readdirSync(cache.dir)).toEqual([]);
  });

  it("takes over the lock of a process that is gone", async () => {
    const cache = fresh();
    mkdirSync(cache.dir, { recursive: true });
    const stale = { token: "dead", pid: 4194303, host: hostname(), created: Date.now() };
    writeFileSync(join(cache.dir, "k5.lock"), JSON.stringify(stale));
    const lock = await cache.lock("k5", live);
    await lock.release();
    expect(readdirSync(cache.dir)).toEqual([]);
  });

  it("stops waiting with ABORTED when the signal fires", async () => {
    const cache = fresh();
    const held = await cache.lock("k6", live);
    const controller = new AbortController();
    const waiting = cache.lock("k6", controller.signal, () => controller.abort());
    await expect(waiting).rejects.toMatchObject({ code: ErrorCodes.ABORTED });
    await held.release();
  });
});
