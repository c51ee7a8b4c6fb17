/** On a bottle's egress proxy and network: the bottle they serve. `ls` never shows them as bottles. */
export const EGRESS_FOR_LABEL = "dev.claude-bottle.egress-for";

