import { createBubblewrapBackend } from "./backend.js";

/** What claude-bottle imports: the default export of a backend package is its factory. */
export default createBubblewrapBackend;

export { createBubblewrapBackend, type BubblewrapBackendOptions, type BubblewrapPrepared } from "./backend.js";
export { bwrapArgs, HOME_TARGET, type SandboxSpec } from "./bwrap-args.js";
export { sandboxEnv } from "./sandbox-env.js";
export { readHostLayout, type HostLayout, type SystemDir } from "./host-layout.js";
export { ttyInjectionFilter } from "./seccomp-filter.js";
export { bwrapRequest, locateBwrap, requireBwrap } from "./locate-bwrap.js";
export { startSandbox, usesProcessTerminal, SECCOMP_FD, type SandboxProcess, type StartedSandbox } from "./start-sandbox.js";
export { doctorChecks } from "./doctor.js";
export { BubblewrapErrorCodes, BWRAP_ENV, INSTALL_HINT } from "./errors.js";
