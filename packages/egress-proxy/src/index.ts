export { createEgressProxy, type EgressProxy, type EgressProxyOptions } from "./server.js";
export { DEFAULT_LIMITS, type ProxyLimits } from "./limits.js";
export { compilePolicy, decide, parsePolicy, PolicyError, type AllowPolicy, type AllPolicy, type CompiledPolicy, type EgressPolicy, type Refusal } from "./policy.js";
// The host, CIDR and denial-record types are core's (@claude-bottle/core/egress-policy); these are the ones this API speaks in.
export { normalizeHost, type DenialReason, type DenialRecord } from "@claude-bottle/core/egress-policy";
export { ALWAYS_BLOCKED, createAddressGuard, type AddressGuard, type BlockedAddress } from "./addresses.js";
export { resolveAndVet, type LookupFunction, type Resolver, type VettedAddress } from "./resolve.js";
export { DialError, type ConnectFunction } from "./dial.js";
export { establish, tunnel, type ConnectContext, type ConnectHandler, type ConnectTarget } from "./tunnel.js";
export { appendDenialsTo, type DenialSink, type FileDenialSink } from "./denials.js";
export { bindingsFor, compileBindings, CredentialError, type CompiledBinding, type CredentialBinding } from "./bindings.js";
export type { CredentialOptions } from "./credentials.js";
export { CaError, createBottleCa, type BottleCa, type BottleCaOptions } from "./x509.js";
export { StreamMatcher } from "./scan.js";
