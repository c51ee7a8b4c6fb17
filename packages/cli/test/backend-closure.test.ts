import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { backendCopiesDir, pruneBackendCopies } from "@claude-bottle/core";
import { afterAll, describe, expect, it } from "vitest";
import { createProject as newProject, type TestProject } from "./support/project.js";
import { CLI_BIN, runCli } from "./support/run-cli.js";
import { TmuxSession } from "./support/tmux.js";

/**
 * A backend from the project runs from a copy, in the user's state directory,
 * of exactly the bytes its approval digested: its package and the packages it
 * declares. What it reaches beyond them in the project (a hoisted package it
 * never declared, a file beside its package) is not in the copy, so it can
 * neither run unapproved nor change after the approval.
 */
describe("a project backend's code is what was approved", () => {
  const projects: TestProject[] = [];
  const createProject = () => {
    const project = newProject();
    projects.push(project);
    return project;
  };
  // The copies are read-only: removed the way claude-bottle removes them, then the rest.
  afterAll(async () => {
    for (const project of projects) {
      await pruneBackendCopies(backendCopiesDir(project.env), new Set());
      rmSync(dirname(project.dir), { recursive: true, force: true });
    }
  });
  const fakeDir = (project: TestProject) => join(project.dir, "node_modules", "claude-bottle-backend-fake");
  const prepend = (file: string, code: string) => writeFileSync(file, `${code}\n${readFileSync(file, "utf8")}`);
  const declare = (dir: string, dependencies: Record<string, string>) => {
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Record<string, unknown>;
    writeFileSync(join(dir, "package.json"), JSON.stringify({ ...manifest, dependencies }));
  };
  /** A package whose import writes `text` and the URL it was loaded from into `marker`. */
  const markingPackage = (name: string, marker: string, text: string) => ({
    "package.json": JSON.stringify({ name, version: "1.0.0", type: "module", exports: "./index.js" }),
    "index.js": `import { writeFileSync } from "node:fs";\nwriteFileSync(${JSON.stringify(marker)}, ${JSON.stringify(text)} + " " + import.meta.url);\nexport const hello = "hi";\n`,
  });
  const cli = (project: TestProject, args: string[]) => runCli(["--backend", "fake", ...args], { cwd: project.dir, env: { ...project.env, FAKE_MODE: "exit:0" } });
  const approve = async (project: TestProject) => {
    const approved = await cli(project, ["trust", "--yes"]);
    expect(approved.code, approved.stderr).toBe(0);
  };
  const copiesUrl = (project: TestProject) => pathToFileURL(join(project.stateHome, "claude-bottle", "backends")).href;

  it("does not load a hoisted package the backend imports without declaring it, before or after it changes", async () => {
    const project = createProject();
    project.installFakeBackend();
    project.writeAgent("bb", "image: example/bb:1\n");
    const marker = join(project.dir, "helper-ran");
    project.installPackage("hoisted-helper", markingPackage("hoisted-helper", marker, "approved"));
    prepend(join(fakeDir(project), "index.js"), 'import "hoisted-helper";');
    await approve(project);

    const refused = await cli(project, ["start", "bb"]);
    expect(refused.code).toBe(125);
    expect(refused.stderr).toContain("Cannot find package 'hoisted-helper'");
    expect(refused.stderr).toContain("dependencies its package.json declares");
    // The project's next move: the helper, never digested, changes after the approval.
    project.installPackage("hoisted-helper", markingPackage("hoisted-helper", marker, "swapped"));
    expect((await cli(project, ["start", "bb"])).code).toBe(125);
    expect(existsSync(marker)).toBe(false);
  });

  it("runs a declared dependency from the copy, and asks again once it changes after the approval", async () => {
    const project = createProject();
    project.installFakeBackend();
    project.writeAgent("bb", "image: example/bb:1\n");
    const marker = join(project.dir, "helper-ran");
    project.installPackage("hoisted-helper", markingPackage("hoisted-helper", marker, "approved"));
    prepend(join(fakeDir(project), "index.js"), 'import "hoisted-helper";');
    declare(fakeDir(project), { "hoisted-helper": "^1.0.0" });
    await approve(project);

    const started = await cli(project, ["start", "bb"]);
    expect(started.code, started.stderr).toBe(0);
    // It ran from the copy in the state directory, not from the project's node_modules.
    expect(readFileSync(marker, "utf8")).toMatch(new RegExp(`^approved ${copiesUrl(project)}/[0-9a-f]{64}/node_modules/hoisted-helper/index\\.js$`));
    rmSync(marker);

    project.installPackage("hoisted-helper", markingPackage("hoisted-helper", marker, "swapped"));
    const changed = await cli(project, ["start", "bb"]);
    expect(changed.code).toBe(125);
    expect(changed.stderr).toContain("changed since it was approved");
    expect(existsSync(marker)).toBe(false);
  });

  it("finds nothing outside the package through a path the backend computes at run time", async () => {
    const project = createProject();
    project.installFakeBackend();
    project.writeAgent("bb", "image: example/bb:1\n");
    const ran = join(project.dir, "payload-ran");
    const report = join(project.dir, "report");
    // A file of the project beside the backend's package, reached by a relative path built when the code runs.
    mkdirSync(join(project.dir, "lib"));
    writeFileSync(join(project.dir, "lib", "payload.js"), `import { writeFileSync } from "node:fs"; writeFileSync(${JSON.stringify(ran)}, "ran");\n`);
    prepend(
      join(fakeDir(project), "index.js"),
      [
        'import { writeFileSync as report } from "node:fs";',
        'const where = ["..", "..", "lib", "payload.js"].join("/");',
        "const outcome = await import(new URL(where, import.meta.url).href).then(() => 'loaded', (error) => error.code);",
        `report(${JSON.stringify(report)}, outcome);`,
      ].join("\n"),
    );
    await approve(project);
    const started = await cli(project, ["start", "bb"]);
    expect(started.code, started.stderr).toBe(0);
    expect(readFileSync(report, "utf8")).toBe("ERR_MODULE_NOT_FOUND");
    expect(existsSync(ran)).toBe(false);
  });

  it("keeps pnpm's layout working in the copy: links to the real directories, exports and imports maps; pnpm's hoisted packages stay out", async () => {
    const project = createProject();
    const modules = join(project.dir, "node_modules");
    const store = join(modules, ".pnpm");
    const report = join(project.dir, "report");
    const hoistedRan = join(project.dir, "hoisted-ran");
    // pnpm's layout: node_modules/<name> links into .pnpm/<name>@<version>/node_modules/<name>; a package's
    // dependencies are links beside it; .pnpm/node_modules holds every package, hoisted, for phantom imports.
    project.installFakeBackend();
    const backend = join(store, "claude-bottle-backend-fake@1.0.0", "node_modules", "claude-bottle-backend-fake");
    mkdirSync(dirname(backend), { recursive: true });
    renameSync(fakeDir(project), backend);
    symlinkSync(".pnpm/claude-bottle-backend-fake@1.0.0/node_modules/claude-bottle-backend-fake", fakeDir(project));
    const dep = join(store, "pnpm-dep@2.0.0", "node_modules", "pnpm-dep");
    const write = (file: string, text: string) => {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
    };
    write(join(dep, "package.json"), JSON.stringify({
      name: "pnpm-dep",
      version: "2.0.0",
      type: "module",
      exports: { ".": { import: "./esm.js", require: "./cjs.cjs" } },
      imports: { "#internal": "./internal.js" },
    }));
    write(join(dep, "esm.js"), 'export { value } from "#internal";\n');
    write(join(dep, "cjs.cjs"), 'module.exports = { value: "the require condition" };\n');
    write(join(dep, "internal.js"), 'export const value = "from pnpm-dep";\n');
    symlinkSync("../../pnpm-dep@2.0.0/node_modules/pnpm-dep", join(dirname(backend), "pnpm-dep"));
    const hoisted = join(store, "hoisted-undeclared@1.0.0", "node_modules", "hoisted-undeclared");
    for (const [file, text] of Object.entries(markingPackage("hoisted-undeclared", hoistedRan, "ran"))) write(join(hoisted, file), text);
    mkdirSync(join(store, "node_modules"));
    symlinkSync("../hoisted-undeclared@1.0.0/node_modules/hoisted-undeclared", join(store, "node_modules", "hoisted-undeclared"));
    declare(backend, { "pnpm-dep": "^2.0.0" });
    prepend(
      join(backend, "index.js"),
      [
        'import { value } from "pnpm-dep";',
        'import { writeFileSync as report } from "node:fs";',
        "const hoisted = await import('hoisted-undeclared').then(() => 'loaded', (error) => error.code);",
        `report(${JSON.stringify(report)}, JSON.stringify({ value, hoisted, url: import.meta.url }));`,
      ].join("\n"),
    );
    await approve(project);

    const listed = await cli(project, ["backends", "--json"]);
    const row = (JSON.parse(listed.stdout) as { name: string; loads: boolean; error: string | null }[]).find((r) => r.name === "fake");
    expect(row, listed.stderr).toMatchObject({ loads: true, error: null });
    const seen = JSON.parse(readFileSync(report, "utf8")) as { value: string; hoisted: string; url: string };
    expect(seen).toMatchObject({ value: "from pnpm-dep", hoisted: "ERR_MODULE_NOT_FOUND" });
    expect(seen.url).toMatch(new RegExp(`^${copiesUrl(project)}/[0-9a-f]{64}/\\.pnpm/claude-bottle-backend-fake@1\\.0\\.0/node_modules/claude-bottle-backend-fake/index\\.js$`));
    expect(existsSync(hoistedRan)).toBe(false);

    // A file of the dependency, reached only through pnpm's links, is covered by the digest.
    write(join(dep, "internal.js"), 'export const value = "swapped";\n');
    const again = await cli(project, ["backends", "--json"]);
    expect((JSON.parse(again.stdout) as { name: string; approval: string }[]).find((r) => r.name === "fake")).toMatchObject({ approval: "needed" });
  });

  it("does not import an unapproved project backend for `login` on a terminal either", async () => {
    const project = createProject();
    project.installFakeBackend();
    const imported = join(project.dir, "imported");
    prepend(join(fakeDir(project), "index.js"), `import { writeFileSync as mark } from "node:fs";\nmark(${JSON.stringify(imported)}, "ran");`);
    const exitCode = join(project.dir, "exit-code");
    const script = join(project.dir, "in-terminal.sh");
    writeFileSync(
      script,
      [
        `cd ${project.dir}`,
        `export XDG_CONFIG_HOME=${project.configHome} XDG_CACHE_HOME=${project.cacheHome} XDG_STATE_HOME=${project.stateHome} XDG_DATA_HOME=${project.dataHome}`,
        `${process.execPath} ${CLI_BIN} --backend fake login`,
        `echo $? > ${exitCode}`,
        "exec sleep 600",
      ].join("\n"),
    );
    const terminal = new TmuxSession(`sh ${script}`, { columns: 200, rows: 30 });
    try {
      await terminal.waitForScreen("login to give up", () => existsSync(exitCode));
      expect(readFileSync(exitCode, "utf8").trim()).toBe("125");
      expect(terminal.screen().replace(/\s+/g, " ")).toContain("has not been approved");
      expect(existsSync(imported)).toBe(false);
    } finally {
      terminal.kill();
    }
  });
});
