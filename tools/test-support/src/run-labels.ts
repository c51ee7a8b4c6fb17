/**
 * How a test run's images are told apart from everything else on a shared
 * engine. scripts/test sets CLAUDE_BOTTLE_TEST_RUN; its leftover check fails
 * the run for any object with that run's label still there at the end.
 */
export const TEST_RUN_LABEL = "dev.claude-bottle.test-run";

/** A fixture image shared by the run's test files, removed by scripts/test when the run ends. */
export const TEST_FIXTURE_LABEL = "dev.claude-bottle.test-fixture";

/**
 * The first lines of a fixture's Dockerfile: `FROM scratch`, then the run's
 * label while a run names itself. A label given to the build (`--label`)
 * becomes a last step, so the intermediate images of the steps before it
 * would carry nothing that says which run made them; a label on the second
 * line is inherited by every step after it.
 */
export function scratchForThisRun(env: Readonly<Record<string, string | undefined>> = process.env): string[] {
  const run = env.CLAUDE_BOTTLE_TEST_RUN?.trim();
  return run ? ["FROM scratch", `LABEL ${TEST_RUN_LABEL}="${run}"`] : ["FROM scratch"];
}
