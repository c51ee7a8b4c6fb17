import { parseCidr } from "../egress-policy/cidr.js";
import { parseHostPattern, parseNamePattern } from "../egress-policy/host-pattern.js";
import type { SchemaNode } from "./schema.js";

/** What each `x-parse` name runs: the egress-policy parsers, whose message says what is wrong with the entry. */
const PARSERS: Record<NonNullable<SchemaNode["x-parse"]>, (text: string) => object | string> = {
  "host-pattern": parseHostPattern,
  "name-pattern": parseNamePattern,
  cidr: parseCidr,
};

/** What is wrong with a value, and where: `path` is the list of keys and indexes down to it. */
export interface SchemaViolation {
  path: (string | number)[];
  message: string;
}

/**
 * Checks `value` against the agent format's JSON Schema subset and returns
 * the first violation, in document order, or undefined when it conforms.
 */
export function firstViolation(value: unknown, schema: SchemaNode, path: (string | number)[] = []): SchemaViolation | undefined {
  const fail = (message: string): SchemaViolation => ({ path, message: schema["x-expected"] ?? message });

  if (schema.anyOf) {
    const violations = schema.anyOf.map((option) => firstViolation(value, option, path));
    if (violations.some((violation) => violation === undefined)) return undefined;
    // The one option whose shape the value has, failing further in (an entry of its list), says which entry and why.
    const inside = violations.filter((violation) => violation!.path.length > path.length);
    return inside.length === 1 ? inside[0] : fail("has an invalid value");
  }
  switch (schema.type) {
    case "object": {
      if (typeof value !== "object" || value === null || Array.isArray(value)) return fail("must be a mapping (key: value)");
      const record = value as Record<string, unknown>;
      if (schema.additionalProperties === false) {
        // Own properties only: `constructor` or `__proto__` must not pass as fields because objects inherit them.
        const unknown = Object.keys(record).filter((key) => !schema.properties || !Object.hasOwn(schema.properties, key));
        if (unknown.length) return { path, message: `unknown field${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `"${k}"`).join(", ")}` };
      }
      for (const [key, child] of Object.entries(record)) {
        const childSchema =
          (schema.properties && Object.hasOwn(schema.properties, key) ? schema.properties[key] : undefined) ??
          (schema.additionalProperties || undefined);
        const violation = childSchema && firstViolation(child, childSchema, [...path, key]);
        if (violation) return violation;
      }
      return undefined;
    }
    case "array": {
      if (!Array.isArray(value)) return fail("must be a list");
      if (schema.minItems !== undefined && value.length < schema.minItems) return fail(`must have at least ${schema.minItems} item(s)`);
      for (const [index, item] of value.entries()) {
        const violation = schema.items && firstViolation(item, schema.items, [...path, index]);
        if (violation) return violation;
      }
      return undefined;
    }
    case "string":
      if (typeof value !== "string") return fail("must be a string");
      if (schema.minLength !== undefined && value.length < schema.minLength) return fail("must not be empty");
      if (schema["x-parse"] !== undefined) {
        // The parser decides; the pattern beside it is the looser screen editors apply.
        const parsed = PARSERS[schema["x-parse"]](value);
        return typeof parsed === "string" ? { path, message: parsed } : undefined;
      }
      if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) return fail(`must match ${schema.pattern}`);
      return undefined;
    case "boolean":
      return typeof value === "boolean" ? undefined : fail("must be true or false");
    case "number":
    case "integer":
      if (typeof value !== "number" || !Number.isFinite(value)) return fail("must be a number");
      if (schema.type === "integer" && !Number.isInteger(value)) return fail("must be a whole number");
      if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) return fail(`must be more than ${schema.exclusiveMinimum}`);
      return undefined;
    default:
      return undefined;
  }
}
