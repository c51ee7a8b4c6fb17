import { pathToFileURL } from "node:url";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { abortedError, BottleError, ErrorCodes, throwIfAborted } from "../src/index.js";

describe("BottleError", () => {
  it("carries a stable code, a message and a hint", () => {
    const error = new BottleError(ErrorCodes.AGENT_NOT_FOUND, "No agent named x.", { hint: "Add one." });
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe("AGENT_NOT_FOUND");
    expect(error.message).toBe("No agent named x.");
    expect(error.hint).toBe("Add one.");
  });

  it("is recognised when it comes from another copy of core", async () => {
    // A second module instance of the built package stands in for a backend that bundled its own core.
    const dist = pathToFileURL(fileURLToPath(new URL("../dist/index.js", import.meta.url))).href;
    const otherCopy = (await import(`${dist}?second-copy`)) as typeof import("../src/index.js");
    const foreign = new otherCopy.BottleError("DOCKER_UNAVAILABLE", "no engine");
    expect(otherCopy.BottleError).not.toBe(BottleError);
    expect(foreign instanceof BottleError).toBe(false);
    expect(BottleError.isInstance(foreign)).toBe(true);
    expect(otherCopy.BottleError.isInstance(new BottleError("X", "y"))).toBe(true);
  });

  it("does not recognise ordinary errors or look-alikes without the brand", () => {
    expect(BottleError.isInstance(new Error("plain"))).toBe(false);
    expect(BottleError.isInstance({ code: "AGENT_NOT_FOUND", message: "x" })).toBe(false);
    expect(BottleError.isInstance(null)).toBe(false);
    expect(BottleError.isInstance("AGENT_NOT_FOUND")).toBe(false);
  });

  it("turns an aborted signal into ABORTED", () => {
    const controller = new AbortController();
    expect(() => throwIfAborted(controller.signal)).not.toThrow();
    controller.abort(new Error("ctrl-c"));
    expect(() => throwIfAborted(controller.signal)).toThrow(expect.objectContaining({ code: "ABORTED" }));
    expect(abortedError().code).toBe(ErrorCodes.ABORTED);
  });
});
