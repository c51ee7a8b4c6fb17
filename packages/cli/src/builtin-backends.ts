import type { BuiltinBackends } from "@claude-bottle/core/host";

/** The backends that ship with the CLI, each imported only when selected. */
export function builtinBackends(): BuiltinBackends {
  return {
    docker: () => import("@claude-bottle/backend-docker"),
    smolmachines: () => import("@claude-bottle/backend-smolmachines"),
  };
}
