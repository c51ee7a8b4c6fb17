import { createInterface } from "node:readline";

/**
 * A yes-or-no question on the terminal (prompt on stderr, answer on stdin);
 * anything but y or yes is no. Only asked when both are a terminal: a script
 * gets the flag's answer, never a prompt it cannot see.
 */
export async function confirm(prompt: string): Promise<boolean> {
  const reader = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await new Promise<string>((resolve) => {
      reader.question(`${prompt} [y/N] `, resolve);
      reader.once("close", () => resolve(""));
    });
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    reader.close();
  }
}

/** Whether a question can be asked: both stdin and stderr are a terminal. */
export function canAsk(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true;
}
