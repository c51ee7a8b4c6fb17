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
  const { main } = await import("./main.js");
  const code = await main(args);
  await exitAfterFlush(code);
}

/**
 * Exits once stdout and stderr have drained: an attached backend may leave
 * sockets open, so the process must not wait for the event loop to empty, but
 * a pipe on macOS is asynchronous and would lose its tail on a bare exit().
 */
async function exitAfterFlush(code: number): Promise<never> {
  await Promise.all([process.stdout, process.stderr].map((stream) => new Promise((done) => stream.write("", done))));
  process.exit(code);
}
