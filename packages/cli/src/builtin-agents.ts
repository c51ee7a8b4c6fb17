import { join } from "node:path";
import { CLAUDE_CODE_HOSTS, type BuiltinAgent } from "@claude-bottle/core";
import { cliPackageDir } from "./package-dir.js";

/** The agents that ship with the CLI; their build contexts live in the package's agents/ folder. */
export function builtinAgents(): BuiltinAgent[] {
  return [
    {
      slug: "claude",
      dir: join(cliPackageDir(), "agents", "claude"),
      recipe: {
        description: "Claude Code, with the workspace at /workspace",
        build: { dockerfile: "Dockerfile", context: "." },
        command: ["claude"],
        // Passed through by name: the values are read at launch and never stored.
        env: ["ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"],
        // Claude Code's services and the usual registries; widen with `start --allow-host` or your own agent file.
        network: { allow: [...CLAUDE_CODE_HOSTS] },
      },
    },
  ];
}
