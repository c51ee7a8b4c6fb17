import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { createExclusive, moveAside, openForAppend, readRegularFile, replaceFile } from "../src/index.js";

/** Each helper is given a link planted where it writes, aimed at a file of the user's: the file must stay as it was. */
describe("host-side writes that refuse links", () => {
  const root = mkdtempSync(join(tmpdir(), "cb-no-follow-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  let dir: string;
  let victim: string;
  let planted: string;
  beforeEach(() => {
    dir = mkdtempSync(join(root, "case-"));
    victim = join(dir, "victim");
    writeFileSync(victim, "user's own\n");
    planted = join(dir, "planted");
    symlinkSync("victim", planted);
  });

  it("replaceFile replaces a link at the path instead of writing through it", async () => {
    await replaceFile(planted, "record\n", 0o600);
    expect(lstatSync(planted).isFile()).toBe(true);
    expect(readFileSync(planted, "utf8")).toBe("record\n");
    expect(readFileSync(victim, "utf8")).toBe("user's own\n");
  });

  it("createExclusive and openForAppend refuse a link", async () => {
    await expect(createExclusive(planted, "x", 0o600)).rejects.toMatchObject({ code: "EEXIST" });
    await expect(openForAppend(planted, 0o600)).rejects.toMatchObject({ code: "ELOOP" });
    expect(readFileSync(victim, "utf8")).toBe("user's own\n");
  });

  it("readRegularFile does not read through a link", async () => {
    expect(await readRegularFile(planted)).toEqual({ kind: "other" });
    expect(await readRegularFile(join(dir, "none"))).toEqual({ kind: "missing" });
  });

  it("moveAside moves a link or a directory to a fresh name, never replacing what is there", async () => {
    writeFileSync(join(dir, "aside"), "taken\n");
    expect(await moveAside(planted, join(dir, "aside"))).toBe(join(dir, "aside.2"));
    expect(readlinkSync(join(dir, "aside.2"))).toBe("victim");
    expect(readFileSync(join(dir, "aside"), "utf8")).toBe("taken\n");
    mkdirSync(join(dir, "made"));
    writeFileSync(join(dir, "made", "config"), "evil\n");
    expect(await moveAside(join(dir, "made"), join(dir, "made.aside"))).toBe(join(dir, "made.aside"));
    expect(readFileSync(join(dir, "made.aside", "config"), "utf8")).toBe("evil\n");
  });
});
