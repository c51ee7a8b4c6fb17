import { describe, expect, it } from "vitest";
import { bottleStateOf, createdAtIso, MACHINE_STATES, toBottleInfo } from "../src/smolvm/lifecycle.js";

describe("machine records", () => {
  it("maps every state smolvm has to a bottle state, none of them unknown", () => {
    for (const state of ["created", "running", "stopped", "failed", "unreachable", "frozen", "paused", "pausing", "starting", "stopping", "resuming", "creating"]) {
      expect(bottleStateOf(state), state).not.toBe("unknown");
    }
    expect(bottleStateOf("paused")).toBe("paused");
    expect(bottleStateOf("pausing")).toBe("paused");
    expect(bottleStateOf("Running")).toBe("running");
    expect(bottleStateOf("something-new")).toBe("unknown");
    expect(Object.values(MACHINE_STATES)).not.toContain("unknown");
  });

  it("gives created_at as ISO 8601 from an RFC 3339 string (1.9.x) or from seconds since the epoch (newer)", () => {
    expect(createdAtIso("2026-03-01T10:00:00Z")).toBe("2026-03-01T10:00:00.000Z");
    expect(createdAtIso("2026-03-01T11:00:00+01:00")).toBe("2026-03-01T10:00:00.000Z");
    expect(createdAtIso(1772359200)).toBe("2026-03-01T10:00:00.000Z");
    expect(createdAtIso("1772359200")).toBe("2026-03-01T10:00:00.000Z");
    expect(createdAtIso(1772359200123)).toBe("2026-03-01T10:00:00.123Z");
    expect(createdAtIso(null)).toBe("1970-01-01T00:00:00.000Z");
    expect(createdAtIso("not a date")).toBe("1970-01-01T00:00:00.000Z");
  });

  it("lists a paused machine with a numeric created_at as a paused bottle with an ISO date", () => {
    const info = toBottleInfo({ name: "claude-bottle-x-abcdef", state: "pausing", created_at: 1772359200, labels: { "dev.claude-bottle.agent": "x" } });
    expect(info).toMatchObject({ state: "paused", created: "2026-03-01T10:00:00.000Z", agent: "x" });
  });
});
