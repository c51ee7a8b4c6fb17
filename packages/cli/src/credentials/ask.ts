import { createInterface } from "node:readline";

/**
 * One line from stdin. On a terminal the prompt goes to stderr and what is
 * typed is not echoed (a pasted key never shows on screen or in scrollback);
 * from a pipe the line is read as it comes, for scripts.
 */
export async function askSecret(prompt: string, stdin: NodeJS.ReadStream = process.stdin, stderr: NodeJS.WriteStream = process.stderr): Promise<string> {
  if (!stdin.isTTY) {
    const reader = createInterface({ input: stdin, terminal: false });
    const line = await new Promise<string>((resolve) => {
      reader.once("line", resolve);
      reader.once("close", () => resolve(""));
    });
    reader.close();
    return line.trim();
  }
  stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  let value = "";
  try {
    return await new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        for (const char of chunk.toString("utf8")) {
          if (char === "\r" || char === "\n") {
            stdin.off("data", onData);
            return resolve(value.trim());
          }
          if (char === "\u0003") {
            stdin.off("data", onData);
            return reject(new Error("interrupted"));
          }
          if (char === "\u007f" || char === "\b") value = value.slice(0, -1);
          else if (char >= " ") value += char;
        }
      };
      stdin.on("data", onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    stderr.write("\n");
  }
}
