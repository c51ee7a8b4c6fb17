// The memory a bottle's egress costs: its proxy's and its anchor's node processes, idle and at the proxy's peak
// while the bottle holds 100 requests through it at once. RSS as ps reports it counts the node binary's pages,
// which every node process on the machine shares; PSS (from /proc/PID/smaps_rollup, where this user may read
// it) divides those among their users, so it is what one more bottle costs. Target (issue 22): 30 MB per bottle.
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";

/** RSS and PSS in MB of a container's processes together (`docker top` for the host's pids). */
export function containerMemoryMb(container) {
  const pids = execFileSync("docker", ["top", container, "-o", "pid,rss"], { encoding: "utf8" }).trim().split("\n").slice(1).map((line) => line.trim().split(/\s+/));
  let rss = 0;
  let pss = 0;
  for (const [pid, kib] of pids) {
    rss += Number(kib) / 1024;
    try {
      pss += Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))[1]) / 1024;
    } catch {
      pss = NaN; // another user's process: PSS is not ours to read
    }
  }
  return { rss, pss };
}

/** Idle, then the peak of samples taken every 20 ms while 100 requests are open at once, then after. */
export async function egressMemoryUnderLoad(bottle) {
  const idle = { proxy: containerMemoryMb(`${bottle}-egress`), anchor: containerMemoryMb(`${bottle}-egress-anchor`) };
  // busybox nc, each connection held open 2 s after its request: 100 at once (the names do not resolve here: each ends in the proxy's answer).
  const request = 'printf "GET http://api.example.com/$i HTTP/1.1\\r\\nHost: api.example.com\\r\\n\\r\\n"';
  const script = `p=\${HTTP_PROXY#http://}; for i in $(seq 100); do (${request}; sleep 2) | nc -w 5 \${p%:*} \${p#*:} >/dev/null & done; wait`;
  const load = spawn("docker", ["exec", bottle, "sh", "-c", script], { stdio: "ignore" });
  let running = true;
  load.on("exit", () => (running = false));
  const peak = { ...idle.proxy };
  while (running) {
    const now = containerMemoryMb(`${bottle}-egress`);
    peak.rss = Math.max(peak.rss, now.rss);
    peak.pss = Math.max(peak.pss, now.pss);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { idle, peak };
}
