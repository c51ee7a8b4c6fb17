/**
 * `make`, called once and its result kept for every later call; a failure is
 * not kept, so the next call tries again (an engine that was down a moment
 * ago, a smolvm installed since). Calls while the first is pending share it.
 */
export function cachedUntilFailure<T>(make: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= make().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}
