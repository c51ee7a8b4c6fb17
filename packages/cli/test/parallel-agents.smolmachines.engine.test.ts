import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildTestRegistryImage } from "@claude-bottle/test-support";
import { describeParallelAgents } from "./support/parallel-suite.js";

/** The smolvm test double (packages/backend-smolmachines/test/fixtures): real pulls, real chrooted runs, as root. */
const SMOLVM_DOUBLE = fileURLToPath(new URL("../../backend-smolmachines/test/fixtures/smolvm", import.meta.url));

/** The processes of an attached run whose CLI was killed: the double's `machine run`, found by the marker in its command line. */
function killOrphans(marker: string): void {
  for (const pid of readdirSync("/proc").filter((entry) => /^\d+$/.test(entry))) {
    let argv: string[];
    try {
      argv = readFileSync(join("/proc", pid, "cmdline"), "utf8").split("\0");
    } catch {
      continue;
    }
    if (argv.some((arg) => arg === "sleep") && argv.includes(marker)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // Gone meanwhile.
      }
    }
  }
}

// Both releases the double imitates (see the smolmachines package's vitest.config.ts).
for (const version of ["1.9.2", "1.23.7"]) {
  describeParallelAgents({
    backend: "smolmachines",
    title: `smolvm ${version}`,
    filesReadOnly: false,
    attachedListed: false,
    killOrphans,
    require: () => {
      if (process.getuid?.() !== 0) throw new Error("The smolvm double runs bottles in mount namespaces: these tests need root.");
    },
    // The double's state lives beside the project, and goes with it.
    env: (project) => ({
      CLAUDE_BOTTLE_SMOLVM: SMOLVM_DOUBLE,
      CLAUDE_BOTTLE_REGISTRY_IMAGE: buildTestRegistryImage(),
      SMOLVM_DOUBLE_STATE: join(dirname(project.dir), "smolvm-double-state"),
      SMOLVM_DOUBLE_VERSION: version,
    }),
  });
}
