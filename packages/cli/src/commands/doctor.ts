import { type DoctorCheck } from "@claude-bottle/core";
import { requireCapability } from "@claude-bottle/core/host";
import { withSession, type CommandEnvironment } from "../context.js";
import { ExitCodes } from "../exit-codes.js";
import { loadSelectedBackend } from "../select-backend.js";

/** `doctor`: the selected backend's prerequisites, what is missing and how to get it. */
export async function doctor(environment: CommandEnvironment, options: { json: boolean }): Promise<number> {
  return withSession(environment, {}, async (session) => {
    const { backend } = await loadSelectedBackend(session);
    const checks = await requireCapability(backend, "doctor")(session.context);
    process.stdout.write(
      options.json ? `${JSON.stringify({ backend: backend.name, checks }, null, 2)}\n` : describe(backend.name, checks),
    );
    return checks.every((check) => check.ok) ? ExitCodes.OK : ExitCodes.CHECK_FAILED;
  });
}

function describe(backendName: string, checks: DoctorCheck[]): string {
  const lines = [`The ${backendName} backend:`];
  for (const check of checks) {
    lines.push(`  ${check.ok ? "ok     " : "MISSING"}  ${check.name}: ${check.detail}`);
    if (!check.ok && check.hint) lines.push(`           hint: ${check.hint}`);
  }
  const failed = checks.filter((check) => !check.ok).length;
  lines.push(failed ? `${failed} of ${checks.length} checks failed.` : "Everything is in place.");
  return `${lines.join("\n")}\n`;
}
