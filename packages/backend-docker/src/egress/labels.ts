import { Labels } from "@claude-bottle/core";
/** On a bottle's egress proxy and network: the bottle they serve. `ls` never shows them as bottles. */
export const EGRESS_FOR_LABEL = Labels.egressFor;

