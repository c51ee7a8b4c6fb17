import { lstat, readlink, realpath } from "node:fs/promises";

/** A top-level system directory as the host has it. */
export interface SystemDir {
  path: string;
  /** Set when the host has a symlink here (a merged-/usr system: /bin -> usr/bin); recreated as one. */
  symlinkTo?: string;
}

/** What the sandbox copies from the host's file system layout. */
export interface HostLayout {
  /** Those of /bin, /sbin, /lib, /lib32, /lib64 and /libx32 that exist on the host. */
  systemDirs: readonly SystemDir[];
  /**
   * The real file behind /etc/resolv.conf when it points outside /etc (systemd-resolved
   * keeps it under /run, which the sandbox does not have): bound too, so DNS works.
   */
  resolvConf?: string;
}

const SYSTEM_DIRS = ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

export async function readHostLayout(): Promise<HostLayout> {
  const systemDirs: SystemDir[] = [];
  for (const path of SYSTEM_DIRS) {
    const info = await lstat(path).catch(() => undefined);
    if (info?.isSymbolicLink()) systemDirs.push({ path, symlinkTo: await readlink(path) });
    else if (info?.isDirectory()) systemDirs.push({ path });
  }
  const resolved = await realpath("/etc/resolv.conf").catch(() => undefined);
  return resolved && !resolved.startsWith("/etc/") ? { systemDirs, resolvConf: resolved } : { systemDirs };
}
