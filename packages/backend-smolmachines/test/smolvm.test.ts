import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { SmolmachinesErrorCodes } from "../src/index.js";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { BottleError, ErrorCodes } from "@claude-bottle/core";
import { describe, expect, it } from "vitest";
import { checkKvm } from "../src/smolvm/kvm.js";
import { findSmolvmExecutable, locateSmolvm } from "../src/smolvm/locate.js";
import { runSmolvm, smolvmCommandLine } from "../src/smolvm/run.js";
import { compareVersions, MINIMUM_SMOLVM_VERSION, parseSmolvmVersion } from "../src/smolvm/version.js";
import { DOUBLE_VERSION, fakeSmolvm, SMOLVM_DOUBLE, useDoubleState } from "./support.js";
import { bottleErrorOf } from "@claude-bottle/core/testing";


describe("smolvm --version", () => {
  it("reads clap's version line and spots a test double", () => {
    expect(parseSmolvmVersion("smolvm 1.9.2\n")).toEqual({ version: "1.9.2", testDouble: false });
    expect(parseSmolvmVersion("smolvm 1.10.0-rc.1")).toEqual({ version: "1.10.0", testDouble: false });
    expect(parseSmolvmVersion("smolvm 1.9.2 (test double)")).toEqual({ version: "1.9.2", testDouble: true });
    expect(parseSmolvmVersion("smolvm version unknown")).toBeUndefined();
    expect(parseSmolvmVersion("qemu 1.9.2")).toBeUndefined();
  });

  it("compares versions numerically", () => {
    expect(compareVersions("1.10.0", "1.9.0")).toBeGreaterThan(0);
    expect(compareVersions("1.9.0", "1.9.0")).toBe(0);
    expect(compareVersions("1.8.9", "1.9.0")).toBeLessThan(0);
  });

  it("accepts the double, which says what it is", async () => {
    const found = await locateSmolvm({ path: SMOLVM_DOUBLE, kvmDevice: "/nonexistent/kvm", platform: "linux" });
    expect(found).toEqual({ path: SMOLVM_DOUBLE, version: DOUBLE_VERSION });
  });

  it("refuses a version older than the minimum, naming the version needed", async () => {
    const old = fakeSmolvm('echo "smolvm 1.8.4"');
    const error = await bottleErrorOf(locateSmolvm({ path: old, platform: "darwin" }));
    expect(error.code).toBe(SmolmachinesErrorCodes.SMOLVM_VERSION);
    expect(error.message).toContain("1.8.4");
    expect(error.message).toContain(MINIMUM_SMOLVM_VERSION);
    expect(error.hint).toContain("brew upgrade smol-machines/tap/smolvm");
  });

  it("refuses a version line it cannot read", async () => {
    const odd = fakeSmolvm('echo "smolvm, the latest one"');
    const error = await bottleErrorOf(locateSmolvm({ path: odd, platform: "linux", kvmDevice: "/dev/null" }));
    expect(error.code).toBe(SmolmachinesErrorCodes.SMOLVM_VERSION);
    expect(error.message).toContain("smolvm, the latest one");
    expect(error.message).toContain(MINIMUM_SMOLVM_VERSION);
  });

  it("refuses a smolvm whose --version fails", async () => {
    const broken = fakeSmolvm('echo "Error: cannot load libkrun" >&2; exit 1');
    const error = await bottleErrorOf(locateSmolvm({ path: broken, platform: "linux" }));
    expect(error.code).toBe(SmolmachinesErrorCodes.SMOLVM_VERSION);
    expect(error.message).toContain("cannot load libkrun");
  });
});

describe("finding smolvm", () => {
  it("takes the explicit path first, then CLAUDE_BOTTLE_SMOLVM, then PATH", () => {
    const onPath = fakeSmolvm('echo "smolvm 1.9.2"');
    const named = fakeSmolvm('echo "smolvm 1.9.2"');
    const explicit = fakeSmolvm('echo "smolvm 1.9.2"');
    const env = { PATH: `/nonexistent:${dirname(onPath)}` };
    expect(findSmolvmExecutable({ env })).toBe(onPath);
    expect(findSmolvmExecutable({ env: { ...env, CLAUDE_BOTTLE_SMOLVM: named } })).toBe(named);
    expect(findSmolvmExecutable({ path: explicit, env: { ...env, CLAUDE_BOTTLE_SMOLVM: named } })).toBe(explicit);
  });

  it("reports a missing smolvm with the install line of the platform", () => {
    const empty = mkdtempSync(join(tmpdir(), "no-smolvm-"));
    const missing = (platform: NodeJS.Platform) => {
      try {
        findSmolvmExecutable({ env: { PATH: empty }, platform });
      } catch (error) {
        return error as BottleError;
      }
      throw new Error("smolvm was found");
    };
    expect(missing("darwin").code).toBe(SmolmachinesErrorCodes.SMOLVM_NOT_FOUND);
    expect(missing("darwin").hint).toContain("brew install smol-machines/tap/smolvm");
    expect(missing("linux").hint).toContain("curl -sSL https://smolmachines.com/install.sh | bash");
    expect(missing("linux").hint).toContain("CLAUDE_BOTTLE_SMOLVM");
  });

  it("reports an override that is not an executable file", () => {
    const dir = mkdtempSync(join(tmpdir(), "not-smolvm-"));
    mkdirSync(join(dir, "smolvm"));
    writeFileSync(join(dir, "plain"), "not executable");
    for (const path of [join(dir, "smolvm"), join(dir, "plain"), join(dir, "absent")]) {
      expect(() => findSmolvmExecutable({ env: { CLAUDE_BOTTLE_SMOLVM: path } })).toThrow(/CLAUDE_BOTTLE_SMOLVM names .* not an executable file/);
    }
  });
});

describe("KVM", () => {
  it("needs a readable and writable KVM device on Linux for a real smolvm", async () => {
    const real = fakeSmolvm('echo "smolvm 1.9.2"');
    const error = await bottleErrorOf(locateSmolvm({ path: real, platform: "linux", kvmDevice: "/nonexistent/kvm" }));
    expect(error.code).toBe(SmolmachinesErrorCodes.SMOLMACHINES_KVM_UNAVAILABLE);
    expect(error.message).toContain("/nonexistent/kvm");
  });

  it("is not needed on macOS", () => {
    expect(() => checkKvm({ platform: "darwin", device: "/nonexistent/kvm" })).not.toThrow();
  });
});

describe("runSmolvm", () => {
  it("carries smolvm's Error: lines and the failing command line into SMOLVM_FAILED", async () => {
    useDoubleState();
    const smolvm = { path: SMOLVM_DOUBLE, version: "1.9.2" };
    const args = ["pack", "create", "--image", "localhost/claude-bottle:abc", "-o", join(tmpdir(), "out")];
    const error = await bottleErrorOf(runSmolvm(smolvm, args));
    expect(error.code).toBe(SmolmachinesErrorCodes.SMOLVM_FAILED);
    expect(error.message).toContain("Error: invalid image reference: localhost/claude-bottle:abc");
    expect(error.message).toContain(`Command: ${smolvmCommandLine(smolvm, args)}`);
  });

  it("quotes the command line so it can be pasted", () => {
    expect(smolvmCommandLine({ path: "/bin/smolvm" }, ["machine", "exec", "--", "sh", "-c", "echo 'hi there'"])).toBe(
      `/bin/smolvm machine exec -- sh -c 'echo '\\''hi there'\\'''`,
    );
  });

  it("kills smolvm and reports ABORTED when the signal fires", async () => {
    const slow = fakeSmolvm("exec sleep 300");
    const controller = new AbortController();
    const running = runSmolvm({ path: slow, version: "1.9.2" }, ["pack", "create"], { signal: controller.signal });
    controller.abort();
    expect((await bottleErrorOf(running)).code).toBe(ErrorCodes.ABORTED);
  });
});
