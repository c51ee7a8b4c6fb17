import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { agentJsonSchema } from "../src/index.js";

describe("agent.schema.json", () => {
  it("is the JSON Schema of the agent file format (run `pnpm schema` after changing it)", () => {
    const committed = JSON.parse(readFileSync(new URL("../agent.schema.json", import.meta.url), "utf8"));
    expect(committed).toEqual(agentJsonSchema());
  });

  it("rejects unknown fields, so editors flag typos", () => {
    expect(agentJsonSchema().additionalProperties).toBe(false);
  });
});
