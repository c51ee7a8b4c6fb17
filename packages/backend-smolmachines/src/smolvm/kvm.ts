import { accessSync, constants, existsSync } from "node:fs";
import { BottleError } from "@claude-bottle/core";
import { SmolmachinesErrorCodes } from "../errors.js";

export const DEFAULT_KVM_DEVICE = "/dev/kvm";

/** On Linux, smolvm's microVMs need KVM: a device this user may read and write. Other platforms pass. */
export function checkKvm(options: { platform?: NodeJS.Platform; device?: string } = {}): void {
  const platform = options.platform ?? process.platform;
  const device = options.device ?? DEFAULT_KVM_DEVICE;
  if (platform !== "linux") return;
  if (!existsSync(device)) {
    throw new BottleError(SmolmachinesErrorCodes.SMOLMACHINES_KVM_UNAVAILABLE, `${device} does not exist: smolvm needs KVM to run microVMs.`, {
      hint: "Enable hardware virtualization (VT-x/AMD-V) in the firmware and load the kvm_intel or kvm_amd module; in a VM, enable nested virtualization.",
    });
  }
  try {
    accessSync(device, constants.R_OK | constants.W_OK);
  } catch {
    throw new BottleError(SmolmachinesErrorCodes.SMOLMACHINES_KVM_UNAVAILABLE, `${device} exists but this user may not read and write it.`, {
      hint: "Add yourself to the kvm group (sudo usermod -aG kvm $USER) and log in again.",
    });
  }
}
