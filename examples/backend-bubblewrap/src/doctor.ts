import type { BackendContext, DoctorCheck } from "@claude-bottle/core";
import { INSTALL_HINT } from "./errors.js";
import { locateBwrap } from "./locate-bwrap.js";
import { runCaptured } from "./run-captured.js";

const USERNS_HINT =
  "bwrap needs unprivileged user namespaces. On Debian before 11: sysctl kernel.unprivileged_userns_clone=1. " +
  "On Ubuntu 23.10 and later, AppArmor restricts them: give bwrap an AppArmor profile that allows userns, " +
  "or set kernel.apparmor_restrict_unprivileged_userns=0. " +
  "In a container, the container must allow creating namespaces.";

/** Is bwrap there, and can it create the namespaces a bottle uses? Reports problems, never throws. */
export async function doctorChecks(ctx: Pick<BackendContext, "env" | "signal">, explicitBwrap?: string): Promise<DoctorCheck[]> {
  const bwrap = await locateBwrap(ctx.env, explicitBwrap);
  if (!bwrap) {
    return [
      { name: "bubblewrap", ok: false, detail: "bwrap was not found", hint: INSTALL_HINT },
      { name: "user namespaces", ok: false, detail: "not checked: bwrap is missing" },
    ];
  }
  const version = await runCaptured(bwrap, ["--version"], ctx.signal);
  const installed: DoctorCheck =
    version.code === 0
      ? { name: "bubblewrap", ok: true, detail: `${bwrap} (${version.stdout.trim()})` }
      : { name: "bubblewrap", ok: false, detail: `${bwrap} --version failed: ${firstLine(version.stderr)}`, hint: INSTALL_HINT };

  // The same namespaces a bottle gets, around a program that does nothing.
  const probe = await runCaptured(bwrap, ["--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"], ctx.signal);
  const namespaces: DoctorCheck =
    probe.code === 0
      ? { name: "user namespaces", ok: true, detail: "bwrap can create a sandbox" }
      : { name: "user namespaces", ok: false, detail: `bwrap cannot create a sandbox: ${firstLine(probe.stderr)}`, hint: USERNS_HINT };
  return [installed, namespaces];
}

function firstLine(text: string): string {
  return text.trim().split("\n")[0] || "no message";
}
