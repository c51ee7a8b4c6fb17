import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ApprovalStore, backendApprovalNeeded, backendCopiesDir, BottleError, importApprovedBackend, locateBackend, pruneBackendCopies, type LocatedBackend } from "../src/index.js";
import { materialize } from "../src/plugin/backend-copy.js";

const roots: string[] = [];

// The copies are read-only: removed the way claude-bottle removes them, then the rest.
afterAll(async () => {
  for (const root of roots) {
    await pruneBackendCopies(backendCopiesDir({ XDG_STATE_HOME: join(root, "state") }), new Set());
    rmSync(root, { recursive: true, force: true });
  }
});

/** A project with a backend package in its node_modules whose factory names itself `name`. */
function project() {
  const root = mkdtempSync(join(tmpdir(), "cb-backend-copy-"));
  roots.push(root);
  const dir = join(root, "project");
  const pkg = join(dir, "node_modules", "claude-bottle-backend-acme");
  mkdirSync(join(pkg, "lib"), { recursive: true });
  mkdirSync(join(root, "cli"));
  const env = { XDG_STATE_HOME: join(root, "state") };
  const marker = join(root, "swapped-code-ran");
  writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "claude-bottle-backend-acme", version: "1.0.0", type: "module", exports: "./index.js" }));
  const writeBackend = (name: string, sideEffect = "") =>
    writeFileSync(
      join(pkg, "index.js"),
      `${sideEffect}import { name } from "./lib/name.js";\nexport default () => ({ apiVersion: 1, name: name + ${JSON.stringify(name)}, capabilities: [], prepare() {}, launch() {} });\n`,
    );
  writeFileSync(join(pkg, "lib", "name.js"), 'export const name = "acme-";\n');
  writeBackend("approved");
  const locate = () => locateBackend({ name: "acme", env: {}, projectDir: dir, hostDir: join(root, "cli"), builtins: {} }) as Promise<Extract<LocatedBackend, { kind: "package" }>>;
  return { root, dir, pkg, env, marker, writeBackend, locate };
}

describe("a project backend's approved copy", () => {
  it("is what is imported: the project's files changing between the digest and the import change nothing", async () => {
    const p = project();
    const located = await p.locate();
    const request = (await backendApprovalNeeded(located))!;
    await ApprovalStore.forUser(p.env).approve([request]);

    // The step an attacker races for: after the digest was taken (and approved), before the import.
    p.writeBackend("swapped", `import { writeFileSync } from "node:fs"; writeFileSync(${JSON.stringify(p.marker)}, "ran");\n`);
    writeFileSync(join(p.pkg, "lib", "name.js"), 'export const name = "evil-";\n');

    const { backend } = await importApprovedBackend(located, request.snapshot!, { builtins: {}, env: p.env });
    expect(backend.name).toBe("acme-approved");
    expect(existsSync(p.marker)).toBe(false);
    // And the next start sees the change: a new digest, which asks again.
    expect((await backendApprovalNeeded(located))!.digest).not.toBe(request.digest);
  });

  it("lives in a 0700 directory named by the digest, read-only, made once", async () => {
    const p = project();
    writeFileSync(join(p.pkg, "lib", "helper.sh"), "#!/bin/sh\necho spawned\n", { mode: 0o755 });
    const request = (await backendApprovalNeeded(await p.locate()))!;
    const root = backendCopiesDir(p.env);
    const copy = await materialize(request.snapshot!, root);
    // A script the backend spawns stays runnable (and only that): its mode is part of the digest too.
    expect(statSync(join(copy, "claude-bottle-backend-acme", "lib", "helper.sh")).mode & 0o777).toBe(0o500);
    chmodSync(join(p.pkg, "lib", "helper.sh"), 0o644);
    expect((await backendApprovalNeeded(await p.locate()))!.digest).not.toBe(request.digest);
    expect(copy).toBe(join(root, request.digest.slice("sha256:".length)));
    expect(statSync(root).mode & 0o777).toBe(0o700);
    const file = join(copy, "claude-bottle-backend-acme", "lib", "name.js");
    expect(readFileSync(file, "utf8")).toBe('export const name = "acme-";\n');
    expect(statSync(file).mode & 0o777).toBe(0o400);
    for (const dir of [copy, join(copy, "claude-bottle-backend-acme"), join(copy, "claude-bottle-backend-acme", "lib")]) expect(statSync(dir).mode & 0o777).toBe(0o500);
    const made = lstatSync(copy).ctimeMs;
    expect(await materialize(request.snapshot!, root)).toBe(copy);
    expect(lstatSync(copy).ctimeMs).toBe(made);
    expect(readdirSync(root)).toEqual([copy.slice(root.length + 1)]);
  });

  it("leaves nothing behind when it fails half-way", async () => {
    const p = project();
    const request = (await backendApprovalNeeded(await p.locate()))!;
    const snapshot = request.snapshot!;
    // A link where a file was already written: the copy fails after some of it is on disk.
    const broken = { ...snapshot, closure: { ...snapshot.closure, links: [{ path: snapshot.closure.files[0]!.path, target: p.pkg }] } };
    const root = backendCopiesDir(p.env);
    const error = await materialize(broken, root).catch((e: unknown) => e);
    expect(BottleError.isInstance(error) && error.code).toBe("BACKEND_IMPORT_FAILED");
    expect(readdirSync(root)).toEqual([]);
  });

  it("removes the copies no approval names and a dead start's half-made copy, and keeps the approved ones", async () => {
    const p = project();
    const located = await p.locate();
    const root = backendCopiesDir(p.env);
    const old = (await backendApprovalNeeded(located))!;
    await materialize(old.snapshot!, root);
    p.writeBackend("upgraded");
    const current = (await backendApprovalNeeded(located))!;
    const otherProject = { project: "/elsewhere", subject: "backend:other", digest: `sha256:${"a".repeat(64)}` };
    mkdirSync(join(root, "a".repeat(64)));
    // No process has this pid (above Linux's pid_max), so nothing is still writing it.
    const leftover = join(root, `.${"b".repeat(64)}.4194305.x1y2z3`);
    mkdirSync(leftover);
    await ApprovalStore.forUser(p.env).approve([current, otherProject]);

    expect((await importApprovedBackend(located, current.snapshot!, { builtins: {}, env: p.env })).backend.name).toBe("acme-upgraded");
    expect(readdirSync(root).sort()).toEqual(["a".repeat(64), current.digest.slice("sha256:".length)].sort());
  });
});
