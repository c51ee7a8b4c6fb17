import { mkdtempSync } from "node:fs";
import { SmolmachinesErrorCodes } from "../src/index.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ErrorCodes } from "@claude-bottle/core";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { packEnvironment } from "../src/pipeline/pack.js";
import { featuresOf, probeSmolvmFeatures, requireSmolvmFeature, smolvmFeatureError, SMOLVM_FEATURES } from "../src/smolvm/features.js";
import { DOUBLE_VERSION, fakeSmolvm, NEWER_DOUBLE, SMOLVM_DOUBLE, useDoubleState } from "./support.js";

const double = { path: SMOLVM_DOUBLE, version: DOUBLE_VERSION };
const run = (args: string[], env: Record<string, string> = {}) => execa(SMOLVM_DOUBLE, args, { reject: false, env, stdin: "ignore" });

describe(`the feature probe, against the double of smolvm ${DOUBLE_VERSION}`, () => {
  it("reads what the smolvm has from --help", async () => {
    useDoubleState();
    const features = await probeSmolvmFeatures(double);
    expect(features.source).toBe("help");
    expect(features.has).toEqual({
      allowHost: true,
      allowCidr: true,
      allowHostPattern: NEWER_DOUBLE,
      credential: NEWER_DOUBLE,
      execStream: true,
      stopOnExit: NEWER_DOUBLE,
      hostLoopbackFloor: NEWER_DOUBLE,
    });
    expect(features.missing().map((m) => m.feature)).toEqual(NEWER_DOUBLE ? [] : ["allowHostPattern", "credential", "stopOnExit"]);
    // Cached per executable and version: the same answer, not a second probe.
    expect(await probeSmolvmFeatures(double)).toBe(features);
  });

  it("falls back to the version when --help cannot be read", async () => {
    const silent = fakeSmolvm('[ "$1" = "--version" ] && echo "smolvm 1.22.2"; exit 0');
    const features = await probeSmolvmFeatures({ path: silent, version: "1.22.2" });
    expect(features.source).toBe("version");
    expect(features.has).toMatchObject({ allowHostPattern: true, credential: true, stopOnExit: false, hostLoopbackFloor: true });
  });

  it("names the version needed and how to upgrade when a feature is missing", () => {
    const old = featuresOf({ path: "/usr/bin/smolvm", version: "1.9.2" }, {
      allowHost: true, allowCidr: true, allowHostPattern: false, credential: false, execStream: true, stopOnExit: false, hostLoopbackFloor: false,
    });
    expect(() => requireSmolvmFeature(old, "allowHost", "x")).not.toThrow();
    const error = smolvmFeatureError(old, "credential", "The agent's credentials:", "darwin");
    expect(error.code).toBe(SmolmachinesErrorCodes.SMOLVM_VERSION);
    expect(error.message).toContain("smolvm machine create --credential");
    expect(error.message).toContain("smolvm 1.9.2 at /usr/bin/smolvm does not have");
    expect(error.message).toContain(`smolvm ${SMOLVM_FEATURES.credential.since} or newer`);
    expect(error.hint).toContain("brew upgrade smol-machines/tap/smolvm");
  });
});

describe(`the double's refusals are smolvm ${DOUBLE_VERSION}'s`, () => {
  it("run --from refuses egress and secret flags as clap does (exit 2), in every version", async () => {
    useDoubleState();
    for (const flag of [["--allow-host", "example.com"], ["--allow-cidr", "10.0.0.0/8"], ["--outbound-localhost-only"], ["--secret-env", "A=B"]]) {
      const result = await run(["machine", "run", "--from", "/x.smolmachine", ...flag, "--", "true"]);
      expect(result.exitCode, flag[0]).toBe(2);
      expect(result.stderr).toContain(`error: the argument '--from <PATH>' cannot be used with '${flag[0]}`);
    }
  });

  it("the newer flags: refused by 1.9.2 as unknown, accepted by the newer one where the real one accepts them", async () => {
    useDoubleState();
    const pattern = await run(["machine", "run", "--from", "/x.smolmachine", "--allow-host-pattern", "*.example.com", "--", "true"]);
    expect(pattern.exitCode).toBe(2);
    expect(pattern.stderr).toContain(
      NEWER_DOUBLE ? "cannot be used with '--allow-host-pattern <PATTERN>'" : "error: unexpected argument '--allow-host-pattern' found",
    );
    for (const flag of [["--credential", "GH=GH_TOKEN@api.github.com"], ["--stop-on-exit"]]) {
      const created = await run(["machine", "create", "--name", "nope", "--from", "/nonexistent.smolmachine", ...flag]);
      if (NEWER_DOUBLE) expect(created.stderr, flag[0]).toContain("Error: no such file: /nonexistent.smolmachine");
      else expect(created.stderr, flag[0]).toContain(`error: unexpected argument '${flag[0]}' found`);
    }
    const pause = await run(["machine", "pause", "--name", "nope"]);
    expect(pause.stderr).toContain(NEWER_DOUBLE ? "machine 'nope' not found" : "unrecognized subcommand 'pause'");
  });

  it("pack create from the host's loopback: the newer floor refuses it unless the pack's environment lifts it", async () => {
    const state = useDoubleState();
    const out = join(mkdtempSync(join(tmpdir(), "smol-floor-")), "out");
    const bare = await run(["pack", "create", "--image", "localhost:1/claude-bottle:0123456789abcdef", "-o", out]);
    const lifted = await run(["pack", "create", "--image", "localhost:1/claude-bottle:0123456789abcdef", "-o", out], packEnvironment(await probeSmolvmFeatures(double)));
    // Port 1 has no registry: a pull that is let through fails at the connection, one that is floored fails before.
    expect(bare.exitCode).toBe(1);
    expect(lifted.exitCode).toBe(1);
    if (NEWER_DOUBLE) {
      expect(bare.stderr).toContain("Error: agent operation failed: pull image: crane manifest failed");
      expect(lifted.stderr).toContain("Error: failed to pull localhost:1/claude-bottle");
      expect(packEnvironment(await probeSmolvmFeatures(double))).toEqual({ SMOLVM_EGRESS_FLOOR: "metadata", SMOLVM_ALLOW_HOST_LOOPBACK: "1" });
    } else {
      expect(bare.stderr).toContain("Error: failed to pull localhost:1/claude-bottle");
      expect(packEnvironment(await probeSmolvmFeatures(double))).toEqual({});
    }
    expect(state).toBeTruthy();
  });

  it("says it is a double in --version", async () => {
    expect((await run(["--version"])).stdout).toBe(`smolvm ${DOUBLE_VERSION} (test double)`);
  });
});
