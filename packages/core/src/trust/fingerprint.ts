import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";

/** A file's content digest; `absent` for a file that does not exist, so creating it changes the fingerprint too. */
export interface FileFingerprint {
  path: string;
  sha256: string;
}

export async function fingerprintFiles(paths: readonly string[]): Promise<FileFingerprint[]> {
  const unique = [...new Set(paths)].sort();
  return Promise.all(
    unique.map(async (path) => {
      const content = await readFile(path).catch(() => undefined);
      return { path, sha256: content === undefined ? "absent" : createHash("sha256").update(content).digest("hex") };
    }),
  );
}
