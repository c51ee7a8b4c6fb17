import type { IncomingMessage } from "node:http";
import type Dockerode from "dockerode";

export type WaitCondition = "not-running" | "next-exit" | "removed";

/**
 * Registers a wait with the engine and resolves once the engine has it (it
 * answers with headers at once), handing back the promise of the exit code.
 * It is wrapped in an object because a promise resolved with a promise would
 * wait for the inner one.
 * Registering before `start` is what makes a process that exits at once
 * impossible to miss; dockerode's own wait resolves only at the end.
 */
export function registerWait(docker: Dockerode, containerId: string, condition: WaitCondition): Promise<{ exitCode: Promise<number> }> {
  return new Promise((registered, failed) => {
    docker.modem.dial(
      {
        path: `/containers/${containerId}/wait?`,
        method: "POST",
        isStream: true,
        statusCodes: { 200: true, 400: "bad parameter", 404: "no such container", 500: "server error" },
        options: { condition },
      },
      (error, result) => {
        if (error) return failed(error);
        const response = result as IncomingMessage;
        registered({
          exitCode: new Promise<number>((resolve, reject) => {
            let body = "";
            response.on("data", (chunk: Buffer) => (body += chunk.toString()));
            response.on("error", reject);
            response.on("end", () => {
              try {
                const result = JSON.parse(body) as { StatusCode: number; Error?: { Message?: string } | null };
                if (result.Error?.Message) reject(new Error(result.Error.Message));
                else resolve(result.StatusCode);
              } catch (parseError) {
                reject(parseError);
              }
            });
          }),
        });
      },
    );
  });
}
