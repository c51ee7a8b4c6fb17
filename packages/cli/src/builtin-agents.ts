import { join } from "node:path";
import { CLAUDE_CODE_HOSTS, type BuiltinAgent } from "@claude-bottle/core/host";
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
        // The bottle holds placeholders; the proxy writes the real key or token (from your environment or
        // `claude-bottle login`) only into requests to the API.
        credentials: [
          { env: "ANTHROPIC_API_KEY", hosts: ["api.anthropic.com"] },
          { env: "CLAUDE_CODE_OAUTH_TOKEN", hosts: ["api.anthropic.com"] },
        ],
        // Claude Code's services and the usual registries; widen with `start --allow-host` or your own agent file.
        network: { allow: [...CLAUDE_CODE_HOSTS] },
      },
    },
  ];
}
