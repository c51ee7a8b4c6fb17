import { bottleLabels as coreBottleLabels, type BottleSpec } from "@claude-bottle/core";

/** The value of the backend label on everything this backend creates. */
export const BACKEND_NAME = "docker";

/** The labels that identify a bottle (core's, with this backend's name). Values are slugs and paths, never environment values. */
export function bottleLabels(spec: Pick<BottleSpec, "slug" | "workspace">): Record<string, string> {
  return coreBottleLabels(BACKEND_NAME, spec);
}
