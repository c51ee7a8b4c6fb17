/**
 * The agent file as users write it (`.claude-bottle/agents/<slug>.yaml`).
 * Kept small on purpose: a field is added only when a feature needs it, and
 * unknown fields are rejected so a typo never silently does nothing.
 *
 * The format is written once, as the JSON Schema below: editors read it from
 * agent.schema.json, and `validateAgentData` interprets the same object. A
 * schema library would cost more start-up time than every other part of the
 * CLI's start together, for a format of a dozen fields.
 */

import { CIDR_SHAPE } from "../egress-policy/cidr.js";
import { HOST_PATTERN_SHAPE } from "../egress-policy/host-pattern.js";
import { HOST_SERVICE_PATTERN } from "./host-services.js";
import { ISOLATION_PATTERN } from "./isolation.js";
import { PUBLISH_PATTERN } from "./ports.js";

export const SLUG_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/**
 * The subset of JSON Schema the agent format uses, plus `x-expected`: how an error phrases what was wanted,
 * and `x-parse`: the egress-policy parser that decides on a string (its `pattern` only screens, for editors).
 */
export interface SchemaNode {
  type?: "object" | "string" | "array" | "boolean" | "number" | "integer";
  description?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: false | SchemaNode;
  items?: SchemaNode;
  minItems?: number;
  minLength?: number;
  pattern?: string;
  exclusiveMinimum?: number;
  anyOf?: SchemaNode[];
  default?: unknown;
  "x-expected"?: string;
  "x-parse"?: "host-pattern" | "name-pattern" | "cidr";
}

const nonEmptyString = (description: string): SchemaNode => ({
  type: "string",
  minLength: 1,
  description,
  "x-expected": "must be a non-empty string",
});

export const agentSchema = {
  type: "object",
  description: "A claude-bottle agent: a named recipe for a bottle.",
  additionalProperties: false,
  properties: {
    description: { type: "string", description: "One line shown by `claude-bottle agents`." },
    build: {
      type: "object",
      description: "Build the image from a Dockerfile. Either build or image, not both.",
      additionalProperties: false,
      properties: {
        dockerfile: { ...nonEmptyString("Relative to the agent file's directory."), default: "Dockerfile" },
        context: { ...nonEmptyString("Build context, relative to the agent file's directory."), default: "." },
        args: {
          type: "object",
          description: "Build arguments.",
          additionalProperties: { type: "string", "x-expected": "must be a string (quote numbers)" },
        },
      },
    },
    image: nonEmptyString("A ready image reference. Either build or image, not both."),
    command: {
      type: "array",
      description: "Replaces the image's command.",
      minItems: 1,
      items: { type: "string" },
      "x-expected": "must be a non-empty list of strings",
    },
    args: { type: "array", description: "Appended to the command.", items: { type: "string" } },
    workspace: nonEmptyString("Host directory mounted at /workspace, relative to where start runs. Default: that directory."),
    mounts: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        properties: {
          source: nonEmptyString("Host path; ~ is the home directory, relative paths start where start runs."),
          target: { type: "string", pattern: "^/", description: "Path inside the bottle.", "x-expected": "must be an absolute path" },
          readOnly: { type: "boolean", description: "Default true: extra mounts are read-only unless this says false." },
        },
      },
    },
    env: {
      type: "array",
      description: "NAME passes the host's value through without storing it; NAME=value is a literal.",
      items: {
        type: "string",
        pattern: "^[A-Za-z_][A-Za-z0-9_]*(=[\\s\\S]*)?$",
        "x-expected": "must be NAME (passed through from the host) or NAME=value",
      },
    },
    network: {
      description:
        "false: no network. true (default): the internet, never private addresses or cloud metadata. { allow: [...] }: only those hosts; deny: [...] wins over both.",
      anyOf: [
        { type: "boolean" },
        {
          type: "object",
          additionalProperties: false,
          properties: {
            allow: {
              type: "array",
              items: { type: "string", pattern: HOST_PATTERN_SHAPE, "x-parse": "host-pattern", "x-expected": "must be a host name, *.domain or IP, with an optional :port" },
              description: "Only these hosts: example.com, *.example.com (subdomains), with an optional :port.",
            },
            deny: {
              type: "array",
              items: { type: "string", pattern: HOST_PATTERN_SHAPE, "x-parse": "host-pattern", "x-expected": "must be a host name, *.domain or IP, with an optional :port" },
              description: "Refused even when allowed.",
            },
            allowPrivate: {
              type: "array",
              items: { type: "string", pattern: CIDR_SHAPE, "x-parse": "cidr", "x-expected": "must be a CIDR such as 192.168.1.0/24" },
              description: "Private ranges the bottle may reach after all; only in your own (user-level) agent files.",
            },
            host: {
              type: "array",
              items: {
                anyOf: [{ type: "integer" }, { type: "string", pattern: HOST_SERVICE_PATTERN }],
                "x-expected": "must be a port of your machine's loopback, such as 5432 or \"localhost:8931\"",
              },
              description: "Ports of your own machine (its loopback) the bottle reaches at host.claude-bottle.internal; only in your own (user-level) agent files.",
            },
          },
        },
      ],
      "x-expected": "must be true, false, or { allow: [hosts], deny: [hosts], host: [ports of your loopback] }",
    },
    credentials: {
      type: "array",
      description:
        "Secrets the agent uses without holding them: the bottle sees a placeholder in ENV, and the value from your environment (or claude-bottle login) is written only into request headers sent to these hosts.",
      items: {
        type: "object",
        additionalProperties: false,
        properties: {
          env: { type: "string", pattern: "^[A-Za-z_][A-Za-z0-9_]*$", "x-expected": "must be a variable name" },
          hosts: {
            type: "array",
            minItems: 1,
            items: { type: "string", pattern: HOST_PATTERN_SHAPE, "x-parse": "name-pattern", "x-expected": "must be a host name or *.domain" },
            "x-expected": "must be a non-empty list of host names",
          },
        },
      },
    },
    ports: {
      type: "array",
      description: "Ports of the bottle published on your 127.0.0.1 and [::1] only: 3000, or HOST:BOTTLE such as \"8080:3000\".",
      items: {
        anyOf: [{ type: "integer" }, { type: "string", pattern: PUBLISH_PATTERN }],
        "x-expected": "must be a port such as 3000 or \"8080:3000\" (HOST:BOTTLE)",
      },
    },
    resources: {
      type: "object",
      additionalProperties: false,
      properties: {
        cpus: { type: "number", exclusiveMinimum: 0, "x-expected": "must be a positive number" },
        memory: {
          description: "Bytes, or a size with a unit: 512m, 4g.",
          anyOf: [
            { type: "integer", exclusiveMinimum: 0 },
            { type: "string", pattern: "^[0-9]+(\\.[0-9]+)?[bkmgBKMG]?$" },
          ],
          "x-expected": "must be a size such as 512m or 4g",
        },
        pids: {
          type: "integer",
          exclusiveMinimum: 0,
          description: "Most processes at once. Default 4096.",
          "x-expected": "must be a positive whole number",
        },
      },
    },
    isolation: {
      type: "string",
      pattern: ISOLATION_PATTERN,
      description: "What stands between the agent and the host's kernel: gvisor (a user-space kernel, runsc) or runc (the host's kernel). A project's file may ask for more than your default, never less.",
      "x-expected": "must be gvisor or runc",
    },
  },
} as const satisfies SchemaNode;

/** The agent file after validation. */
export interface AgentFile {
  description?: string;
  build?: { dockerfile?: string; context?: string; args?: Record<string, string> };
  image?: string;
  command?: string[];
  args?: string[];
  workspace?: string;
  mounts?: Array<{ source: string; target: string; readOnly?: boolean }>;
  env?: string[];
  network?: boolean | { allow?: string[]; deny?: string[]; allowPrivate?: string[]; host?: Array<number | string> };
  credentials?: Array<{ env: string; hosts: string[] }>;
  resources?: { cpus?: number; memory?: number | string; pids?: number };
  ports?: Array<number | string>;
  isolation?: "gvisor" | "runc";
}

/** The JSON Schema editors use to complete and check agent files (published as agent.schema.json). */
export function agentJsonSchema(): Record<string, unknown> {
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "https://unpkg.com/@claude-bottle/core/agent.schema.json",
    title: "claude-bottle agent",
    ...agentSchema,
  };
}

/** Bytes from `4g`, `512m`, `1024k`, `100b` or a plain number of bytes. */
export function parseMemory(value: number | string): number {
  if (typeof value === "number") return value;
  const match = /^([0-9]+(?:\.[0-9]+)?)([bkmg]?)$/i.exec(value.trim());
  if (!match) throw new Error(`not a size: ${value}`);
  const units: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
  return Math.round(Number(match[1]) * (units[match[2]!.toLowerCase()] ?? 1));
}
