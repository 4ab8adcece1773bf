import { describe, expect, it } from "vitest";
import { parseUpstreamRegistry, upstreamRepository, UpstreamRegistryConfigError } from "./upstream-registry.js";

describe("parseUpstreamRegistry", () => {
  it("splits host and namespace and rewrites docker.io", () => {
    const hub = parseUpstreamRegistry("docker.io/library", false);
    expect(hub).toEqual({ value: "docker.io/library", host: "docker.io", namespace: "library", baseUrl: "https://registry-1.docker.io" });
    expect(upstreamRepository(hub, "nginx")).toBe("library/nginx");
    const local = parseUpstreamRegistry("registry.local:5000", true);
    expect(local).toMatchObject({ host: "registry.local:5000", namespace: null, baseUrl: "http://registry.local:5000" });
    expect(upstreamRepository(local, "library/nginx")).toBe("library/nginx");
    expect(parseUpstreamRegistry("quay.io/org/team/", false).namespace).toBe("org/team");
  });

  it("refuses what Quay refuses, with its messages", () => {
    const refusal = (value: string, policy = { allowedHosts: [] as string[] }) => {
      try {
        parseUpstreamRegistry(value, false, policy);
        return null;
      } catch (error) {
        expect(error).toBeInstanceOf(UpstreamRegistryConfigError);
        return (error as Error).message;
      }
    };
    expect(refusal("  ")).toBe("External registry URL is required");
    expect(refusal("/library")).toBe("URL must include a hostname");
    expect(refusal("https://quay.io")).toMatch(/without a scheme/);
    expect(refusal("127.0.0.1:5000")).toBe("The provided registry URL is not allowed");
    expect(refusal("localhost:5000")).toBe("The provided registry URL is not allowed");
    expect(refusal("169.254.169.254")).toBe("The provided registry URL is not allowed");
    expect(refusal("127.0.0.1:5000", { allowedHosts: ["127.0.0.1"] })).toBeNull();
    expect(refusal("quay.io/Bad Name")).toMatch(/Invalid upstream namespace/);
  });
});
