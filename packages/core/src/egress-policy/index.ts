/**
 * `@claude-bottle/core/egress-policy`: host patterns, CIDRs and the denial
 * record, parsed and typed once. It imports only `node:` built-ins, so the
 * egress proxy bundles it into its one-file image entry.
 */
export { canonicalIpv6, embeddedIpv4, ipNumber, ipText, type IpFamily } from "./ip-address.js";
export { CIDR_SHAPE, cidrContains, cidrOf, cidrsOverlap, cidrSize, formatCidr, parseCidr, type Cidr } from "./cidr.js";
export { formatAuthority, normalizeHost, parseAuthority, parseHostAndPort, parsePort, splitHostPort } from "./host.js";
export { HOST_PATTERN_SHAPE, hostMatches, nameMatches, parseHostPattern, parseNamePattern, type HostPattern } from "./host-pattern.js";
export { DENIAL_REASONS, formatDenial, parseDenial, type DenialReason, type DenialRecord } from "./denial.js";
