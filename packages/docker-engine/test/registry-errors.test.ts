import { ErrorCodes } from "@claude-bottle/core";
import { describe, expect, it } from "vitest";
import { classifyRegistryFailure, registryOf, registryRefused } from "../src/image/registry-errors.js";

describe("registry failures", () => {
  it("finds the registry of a reference", () => {
    expect(registryOf("localhost:5000/cb:1")).toBe("localhost:5000");
    expect(registryOf("host.docker.internal:41234/cb:abc")).toBe("host.docker.internal:41234");
    expect(registryOf("ghcr.io/acme/agent:1.2")).toBe("ghcr.io");
    expect(registryOf("acme/agent:1.2")).toBe("docker.io");
    expect(registryOf("busybox")).toBe("docker.io");
  });

  it("recognises an HTTP-only registry refused by the engine, with the insecure-registries hint", () => {
    const error = classifyRegistryFailure(
      "host.docker.internal:41234/cb:abc",
      'Get "https://host.docker.internal:41234/v2/": http: server gave HTTP response to HTTPS client',
      "push",
    );
    expect(error?.code).toBe(ErrorCodes.REGISTRY_INSECURE);
    expect(error?.hint).toContain('"host.docker.internal:41234"');
    expect(error?.hint).toContain("insecure-registries");
  });

  it("recognises an unreachable registry: refused, timed out, unknown host", () => {
    for (const message of [
      'Get "http://localhost:5000/v2/": dial tcp 127.0.0.1:5000: connect: connection refused',
      'Get "http://localhost:5000/v2/": context deadline exceeded',
      "dial tcp: lookup nowhere.invalid: no such host",
      "dial tcp 10.1.2.3:5000: i/o timeout",
    ]) {
      expect(classifyRegistryFailure("localhost:5000/cb:1", message, "push")?.code).toBe(ErrorCodes.REGISTRY_UNREACHABLE);
    }
  });

  it("says what failed to pull from a registry out of reach, and the override, without the local registry's advice", () => {
    const message = 'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io on 10.255.255.53:53: no such host';
    const error = classifyRegistryFailure("node:20-bookworm-slim", message, "pull", "Or set CLAUDE_BOTTLE_PROXY_IMAGE to an image this engine already has.");
    expect(error?.code).toBe(ErrorCodes.REGISTRY_UNREACHABLE);
    expect(error?.message).toContain("node:20-bookworm-slim");
    expect(error?.message).toContain("docker.io");
    expect(error?.hint).toContain("CLAUDE_BOTTLE_PROXY_IMAGE");
    expect(error?.hint).not.toContain("host.docker.internal");
    // A local registry keeps the advice about where the engine runs.
    expect(classifyRegistryFailure("localhost:5000/cb:1", "connection refused", "pull")?.hint).toContain("host.docker.internal");
  });

  it("leaves other failures to the caller", () => {
    expect(classifyRegistryFailure("localhost:5000/cb:1", "unauthorized: authentication required", "push")).toBeUndefined();
  });

  it("names a registry that answered and refused as REGISTRY_REFUSED, quoting it", () => {
    const error = registryRefused("localhost:5000/cb:1", "unauthorized: authentication required", "push");
    expect(error.code).toBe(ErrorCodes.REGISTRY_REFUSED);
    expect(error.message).toContain("localhost:5000 refused to push localhost:5000/cb:1: unauthorized: authentication required");
    expect(error.hint).toContain("login");
  });
});

describe("splitRepoTag", () => {
  it("tells a registry port from a tag, and defaults the tag to latest", async () => {
    const { splitRepoTag } = await import("../src/index.js");
    expect(splitRepoTag("localhost:5000/cb:abc")).toEqual({ repo: "localhost:5000/cb", tag: "abc" });
    expect(splitRepoTag("localhost:5000/cb")).toEqual({ repo: "localhost:5000/cb", tag: "latest" });
    expect(splitRepoTag("claude-bottle/agent:0123456789abcdef")).toEqual({ repo: "claude-bottle/agent", tag: "0123456789abcdef" });
    expect(splitRepoTag("busybox@sha256:0000")).toEqual({ repo: "busybox", tag: "latest" });
  });
});
