// Adds up the vitest JSON reports of every package into one closing line.
// A skipped or todo test fails the run: a test that did not run proves nothing.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
for (const group of ["packages", "examples", "tools"]) {
  if (!existsSync(group)) continue;
  for (const name of readdirSync(group)) {
    const dir = join(group, name);
    const manifest = join(dir, "package.json");
    if (!existsSync(manifest) || !JSON.parse(readFileSync(manifest, "utf8")).scripts?.test) continue;
    const reportFile = join(dir, "test-report.json");
    if (!existsSync(reportFile)) {
      missing.push(dir);
      continue;
    }
    const report = JSON.parse(readFileSync(reportFile, "utf8"));
    passed += report.numPassedTests;
    failed += report.numFailedTests;
    skipped += report.numPendingTests + report.numTodoTests;
    for (const file of report.testResults) {
      if (file.status === "failed" && file.assertionResults.length === 0) {
        failed += 1; // a file that failed to load has no assertions but is a failure
        console.error(`${file.name}: ${file.message}`);
      }
    }
  }
}
for (const dir of missing) console.error(`${dir}: no test report (its tests did not run)`);
console.log(`tests: ${passed} passed, ${failed + missing.length} failed, ${skipped} skipped`);
process.exit(failed + missing.length + skipped === 0 && passed > 0 ? 0 : 1);
