import { describe, expect, it, vi } from "vitest";
import { ExitCodes, main } from "../dist/index.js";

describe("main(argv) as a library", () => {
  it("resolves with the exit code instead of exiting, and leaves no signal handlers behind", async () => {
    const listeners = process.listenerCount("SIGINT");
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      expect(await main(["stop"])).toBe(ExitCodes.USAGE);
      expect(await main(["no-such-command"])).toBe(ExitCodes.USAGE);
    } finally {
      stderr.mockRestore();
    }
    expect(process.listenerCount("SIGINT")).toBe(listeners);
  });
});
