import { BACKEND_API_VERSION, BACKEND_CAPABILITIES, type Backend, type Capability } from "../backend.js";
import { ENFORCEMENTS } from "../enforcement.js";
import { BottleError, ErrorCodes } from "../errors.js";

const KNOWN_CAPABILITIES: readonly Capability[] = BACKEND_CAPABILITIES;

/** Checks the shape and the contract version; refuses what this core cannot drive. */
export function validateBackend(name: string, backend: unknown): Backend {
  const candidate = backend as Partial<Backend> | null;
  if (typeof candidate !== "object" || candidate === null) {
    throw new BottleError(ErrorCodes.BACKEND_INVALID, `The backend "${name}"'s factory did not return an object.`);
  }
  if (candidate.apiVersion !== BACKEND_API_VERSION) {
    throw new BottleError(
      ErrorCodes.BACKEND_API_VERSION,
      `The backend "${name}" implements contract version ${String(candidate.apiVersion)}, but this claude-bottle speaks version ${BACKEND_API_VERSION}.`,
      { hint: "Install a version of the backend made for this claude-bottle, or upgrade claude-bottle." },
    );
  }
  const missing = (["prepare", "launch"] as const).filter((m) => typeof candidate[m] !== "function");
  if (typeof candidate.name !== "string" || !Array.isArray(candidate.capabilities) || missing.length) {
    throw new BottleError(
      ErrorCodes.BACKEND_INVALID,
      `The backend "${name}" is not a valid backend: it needs a name, capabilities and the methods prepare and launch.`,
    );
  }
  const enforces: unknown = (candidate as { enforces?: unknown }).enforces;
  if (enforces !== undefined && (!Array.isArray(enforces) || enforces.some((e) => !(ENFORCEMENTS as readonly unknown[]).includes(e)))) {
    const odd = Array.isArray(enforces) ? enforces.filter((e) => !(ENFORCEMENTS as readonly unknown[]).includes(e)) : [enforces];
    throw new BottleError(
      ErrorCodes.BACKEND_INVALID,
      `The backend "${name}" declares enforcing ${odd.map((e) => JSON.stringify(e)).join(", ")}, which this claude-bottle does not know.`,
      { hint: `enforces is a list of: ${ENFORCEMENTS.join(", ")}. A newer claude-bottle may know it; otherwise the backend has a typo.` },
    );
  }
  const unknown = candidate.capabilities.filter((c) => !KNOWN_CAPABILITIES.includes(c));
  if (unknown.length) {
    throw new BottleError(
      ErrorCodes.BACKEND_INVALID,
      `The backend "${name}" advertises ${unknown.length > 1 ? "capabilities" : "a capability"} this claude-bottle does not know: ${unknown.map((c) => JSON.stringify(c)).join(", ")}.`,
      { hint: `Known capabilities: ${KNOWN_CAPABILITIES.join(", ")}. A newer claude-bottle may know it; otherwise the backend has a typo.` },
    );
  }
  const absent = candidate.capabilities.filter(
    // Every capability but detach is the name of the method that implements it.
    (c) => c !== "detach" && typeof (candidate as Record<string, unknown>)[c] !== "function",
  );
  if (absent.length) {
    throw new BottleError(
      ErrorCodes.BACKEND_INVALID,
      `The backend "${name}" advertises ${absent.join(", ")} but does not implement ${absent.length > 1 ? "them" : "it"}.`,
    );
  }
  if (candidate.capabilities.includes("homes") && typeof candidate.removeHome !== "function") {
    throw new BottleError(ErrorCodes.BACKEND_INVALID, `The backend "${name}" advertises homes but does not implement removeHome, which homes promises.`);
  }
  return candidate as Backend;
}

/** The backend's method for `capability`, or an UNSUPPORTED error naming the backend. */
export function requireCapability<C extends Exclude<keyof Backend, "apiVersion" | "name" | "capabilities" | "enforces" | "prepare" | "launch" | "removeHome">>(
  backend: Backend,
  capability: C,
): NonNullable<Backend[C]> {
  const method = backend[capability];
  if (!backend.capabilities.includes(capability) || typeof method !== "function") {
    throw new BottleError(ErrorCodes.UNSUPPORTED, `The ${backend.name} backend does not support "${capability}".`, {
      hint: "Choose another backend with --backend or CLAUDE_BOTTLE_BACKEND.",
    });
  }
  return method.bind(backend) as NonNullable<Backend[C]>;
}
