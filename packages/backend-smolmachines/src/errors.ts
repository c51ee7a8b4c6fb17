/**
 * The smolmachines backend's own error codes (the shared ones are core's
 * `ErrorCodes`). The strings are the ones core listed before 0.2, so code
 * that matches on them keeps working.
 */
export const SmolmachinesErrorCodes = {
  /** No smolvm executable where it was looked for. */
  SMOLVM_NOT_FOUND: "SMOLVM_NOT_FOUND",
  /** smolvm is older than this backend needs, or lacks a feature it needs. */
  SMOLVM_VERSION: "SMOLVM_VERSION",
  /** smolvm ran and reported a failure of its own. */
  SMOLVM_FAILED: "SMOLVM_FAILED",
  /** Linux: /dev/kvm is missing or not usable by this user. Prefixed with its backend's name since 0.2 (was KVM_UNAVAILABLE). */
  SMOLMACHINES_KVM_UNAVAILABLE: "SMOLMACHINES_KVM_UNAVAILABLE",
  /** The disk of claude-bottle's cache filled up while a machine was packed into it. */
  SMOLMACHINES_DISK_FULL: "SMOLMACHINES_DISK_FULL",
} as const;

export type SmolmachinesErrorCode = (typeof SmolmachinesErrorCodes)[keyof typeof SmolmachinesErrorCodes];
