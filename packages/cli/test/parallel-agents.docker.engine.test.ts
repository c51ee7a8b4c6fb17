import { createHash } from "node:crypto";
import { expect } from "vitest";
import { docker } from "./support/docker.js";
import { describeParallelAgents } from "./support/parallel-suite.js";

describeParallelAgents({
  backend: "docker",
  filesReadOnly: true,
  attachedListed: true,
  // The project's home, not one per worktree: a login made in the project is there in its worktree bottles.
  checkHome: (bottle, project) => {
    const mounts = JSON.parse(docker("inspect", "--format", "{{json .Mounts}}", bottle)) as { Type: string; Name?: string }[];
    const home = mounts.find((m) => m.Type === "volume")?.Name;
    expect(home).toMatch(new RegExp(`-${createHash("sha256").update(project).digest("hex").slice(0, 12)}$`));
  },
});
