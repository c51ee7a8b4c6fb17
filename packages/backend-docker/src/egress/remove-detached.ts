/**
 * `node remove-detached.js BOTTLE CACHE_DIR`: removes a finished bottle's
 * egress proxy and network in a process of its own, so an attached start
 * hands the terminal back as soon as the agent exits instead of waiting on
 * two removals (~250 ms). If it dies, the next `list` reaps what it left.
 */
import { connectDocker } from "@claude-bottle/docker-engine";
import { removeEgress } from "./sidecar.js";

const [bottle, cacheDir] = process.argv.slice(2);
if (bottle && cacheDir) {
  const { api } = await connectDocker({ env: process.env });
  await removeEgress(api, bottle, cacheDir, process.env);
}
