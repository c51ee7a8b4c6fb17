import type { Stdio } from "@claude-bottle/core";
import { demultiplex } from "@claude-bottle/docker-engine";

/** Docker's default detach keys, Ctrl-P Ctrl-Q: the engine ends the attach and leaves the bottle running. */
const DETACH_SEQUENCE = [0x10, 0x11] as const;

export interface StreamSession {
  /** Resolves when the engine has closed the stream: the process exited, or the user detached. */
  ended: Promise<void>;
  /** True once the user typed the detach keys in a terminal session. */
  detached(): boolean;
  /** Sets the TTY's size to the terminal's and follows it from now on; call once the process runs. */
  followTerminalSize(): void;
  /** Undoes what the session did to the terminal and streams; safe to call more than once. */
  release(): void;
}

/**
 * Connects a hijacked engine stream (attach or exec) to the user's stdio.
 * With a TTY the stream is raw: stdin goes in raw mode, so Ctrl-C reaches the
 * agent as a byte, and the terminal size follows stdout's. Without one the
 * engine multiplexes stdout and stderr, which are kept apart here.
 */
export function connectStdio(
  stream: NodeJS.ReadWriteStream,
  stdio: Stdio,
  options: {
    tty: boolean;
    stdin: boolean;
    /**
     * Pass the end of our input on. Only where the engine then closes the
     * agent's stdin (exec, and containers created with StdinOnce), and never
     * with a TTY: elsewhere the engine closes the agent's output to us instead.
     */
    endInput: boolean;
    resize?: (size: { h: number; w: number }) => Promise<unknown>;
  },
): StreamSession {
  const { stdin, stdout, stderr } = stdio;
  const useRawMode = options.tty && options.stdin && stdin.isTTY === true && typeof stdin.setRawMode === "function";
  let lastInput: number[] = [];
  let released = false;

  const ended = new Promise<void>((resolve) => {
    stream.on("end", resolve);
    stream.on("close", resolve);
    // A reset connection ends the session the same way; the exit code comes from the engine.
    stream.on("error", resolve);
  });

  if (options.tty) stream.pipe(stdout, { end: false });
  else demultiplex(stream, stdout, stderr);

  const trackDetach = (chunk: Buffer | string) => {
    const tail = Buffer.from(chunk).subarray(-DETACH_SEQUENCE.length);
    lastInput = [...lastInput, ...tail].slice(-DETACH_SEQUENCE.length);
  };
  if (options.stdin) {
    if (useRawMode) stdin.setRawMode!(true);
    if (options.tty) stdin.on("data", trackDetach);
    stdin.pipe(stream, { end: options.endInput && !options.tty });
    stdin.resume();
  }

  const onResize = () => {
    if (stdout.columns && stdout.rows) options.resize?.({ h: stdout.rows, w: stdout.columns }).catch(() => {});
  };

  return {
    ended,
    detached: () => options.tty && lastInput.length === 2 && lastInput[0] === DETACH_SEQUENCE[0] && lastInput[1] === DETACH_SEQUENCE[1],
    followTerminalSize() {
      if (!options.tty || !options.resize || released) return;
      onResize();
      stdout.on("resize", onResize);
    },
    release() {
      if (released) return;
      released = true;
      stdout.removeListener("resize", onResize);
      if (options.stdin) {
        stdin.removeListener("data", trackDetach);
        stdin.unpipe(stream);
        // A paused stdin no longer holds the host process open once the bottle is gone.
        stdin.pause();
        if (useRawMode) stdin.setRawMode!(false);
      }
    },
  };
}
