/** On a bottle's egress proxy and network: the bottle they serve. `ls` never shows them as bottles. */
export const EGRESS_FOR_LABEL = "dev.claude-bottle.egress-for";

/**
 * On a bottle's egress network: the `start` that made it (its pid and host).
 * Before its bottle exists (while the image builds) the egress is that
 * start's, not an orphan, for as long as the start lives.
 */
export const EGRESS_OWNER_PID_LABEL = "dev.claude-bottle.egress-owner-pid";
export const EGRESS_OWNER_HOST_LABEL = "dev.claude-bottle.egress-owner-host";
