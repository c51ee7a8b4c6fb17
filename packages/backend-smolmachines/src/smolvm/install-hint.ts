/** Names the smolvm executable to use instead of the one on PATH. */
export const SMOLVM_ENV = "CLAUDE_BOTTLE_SMOLVM";

/** The install line for this platform, for every "smolvm is missing" message. */
export function smolvmInstallHint(platform: NodeJS.Platform): string {
  const override = `or set ${SMOLVM_ENV} to the smolvm executable`;
  if (platform === "darwin") return `Install smolvm with \`brew install smol-machines/tap/smolvm\`, ${override}.`;
  if (platform === "linux") {
    return `Install smolvm with \`curl -sSL https://smolmachines.com/install.sh | bash\` (or from smolvm's apt repository), ${override}.`;
  }
  return `smolvm runs on macOS and Linux: see https://github.com/smol-machines/smolvm, ${override}.`;
}
