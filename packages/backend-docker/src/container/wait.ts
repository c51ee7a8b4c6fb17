import { readText, type EngineApi } from "@claude-bottle/docker-engine";

export type WaitCondition = "not-running" | "next-exit" | "removed";

/**
 * Registers a wait with the engine and resolves once the engine has it (it
 * answers with headers at once), handing back the promise of the exit code.
 * It is wrapped in an object because a promise resolved with a promise would
 * wait for the inner one.
 * Registering before `start` is what makes a process that exits at once
 * impossible to miss.
 */
export async function registerWait(
  api: EngineApi,
  containerId: string,
  condition: WaitCondition,
): Promise<{ exitCode: Promise<number>; /** Drops the wait, for when what it waited for will not happen. */ cancel(): void }> {
  const response = await api.request("POST", `/containers/${containerId}/wait`, { query: { condition } });
  const exitCode = readText(response).then((body) => {
    const result = JSON.parse(body) as { StatusCode: number; Error?: { Message?: string } | null };
    if (result.Error?.Message) throw new Error(result.Error.Message);
    return result.StatusCode;
  });
  return { exitCode, cancel: () => response.destroy() };
}
