/**
 * The process entry. `--version` is answered here without loading commander
 * or anything else, because it is the one command scripts call in a loop;
 * everything else goes through `main`, imported on demand.
 */
const args = process.argv.slice(2);

if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  const { cliVersion } = await import("./version.js");
  process.stdout.write(`${cliVersion()}\n`);
} else {
  let hungUp = false;
  const onHangUp = () => (hungUp = true);
  process.on("SIGHUP", onHangUp);
  const { main } = await import("./main.js");
  const code = await main(args);
  if (hungUp) dieOfHangUp(onHangUp);
  await exitAfterFlush(code);
}

/**
 * Exits once stdout and stderr have drained: an attached backend may leave
 * sockets open, so the process must not wait for the event loop to empty, but
 * a pipe on macOS is asynchronous and would lose its tail on a bare exit().
 */
async function exitAfterFlush(code: number): Promise<never> {
  // A stream whose reader is gone (`| head`) fails the write: nothing is left to flush.
  for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});
  await Promise.all([process.stdout, process.stderr].map((stream) => new Promise((done) => stream.write("", done))));
  process.exit(code);
}

/**
 * After a hang-up (the backend has cleaned up by now), ends the way a
 * hung-up process does, by the signal itself. An ordinary exit would make
 * Node restore the terminal's modes on a terminal that no longer exists,
 * which aborts the process with an assertion (nodejs/node#51519).
 */
function dieOfHangUp(onHangUp: () => void): void {
  process.off("SIGHUP", onHangUp);
  process.kill(process.pid, "SIGHUP");
}
