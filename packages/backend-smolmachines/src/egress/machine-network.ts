import type { ResolvedAgent } from "@claude-bottle/core";
import type { MachineNetwork } from "../attached-machine.js";
import { probeSmolvmFeatures, requireSmolvmFeature } from "../smolvm/features.js";
import type { Smolvm } from "../smolvm/locate.js";
import { smolvmCredentialPlan, smolvmEgressPlan } from "./policy.js";

/**
 * What a bottle's network needs from smolvm: its policy and credentials as
 * flags; the egress floor and the credential values as smolvm's environment.
 * Undefined for a bottle without network, which keeps `machine run --from`.
 * Throws UNSUPPORTED for what smolvm cannot enforce (by field), and
 * SMOLVM_VERSION, with the release and the upgrade line, for a flag this
 * smolvm lacks; both before anything is built or created.
 */
export async function machineNetworkOf(
  smolvm: Pick<Smolvm, "path" | "version">,
  agent: ResolvedAgent,
  hostEnv: Readonly<Record<string, string | undefined>>,
): Promise<MachineNetwork | undefined> {
  const egress = smolvmEgressPlan(agent);
  if (!egress?.network) return undefined;
  const credentials = smolvmCredentialPlan(agent, hostEnv);
  const needs = [...egress.needs, ...credentials.needs];
  if (needs.length > 0) {
    const features = await probeSmolvmFeatures(smolvm);
    for (const { feature, neededFor } of needs) requireSmolvmFeature(features, feature, neededFor);
  }
  return { args: [...egress.args, ...credentials.args], env: egress.env, credentials: credentials.values };
}
