import { describe, expect, it } from "vitest";
import { parseChallenge } from "./challenge.js";

describe("parseChallenge", () => {
  it("reads a bearer challenge in Quay's and Docker Hub's layouts", () => {
    expect(parseChallenge('Bearer realm="https://quay.io/v2/auth",service="quay.io",scope="repository:a/b:pull"')).toEqual({
      scheme: "bearer",
      params: { realm: "https://quay.io/v2/auth", service: "quay.io", scope: "repository:a/b:pull" },
    });
    expect(parseChallenge('Bearer realm="https://auth.docker.io/token", service="registry.docker.io"')).toEqual({
      scheme: "bearer",
      params: { realm: "https://auth.docker.io/token", service: "registry.docker.io" },
    });
  });

  it("reads bare tokens, escapes, upper-case names and a Basic realm", () => {
    expect(parseChallenge('BASIC Realm="Registry \\"Realm\\""')).toEqual({ scheme: "basic", params: { realm: 'Registry "Realm"' } });
    expect(parseChallenge("Bearer realm=https://r.example/token,service=r.example")).toEqual({
      scheme: "bearer",
      params: { realm: "https://r.example/token", service: "r.example" },
    });
    expect(parseChallenge('Bearer realm="https://r.example/token",error="invalid_token",scope="repository:x:pull,push"')?.params).toEqual({
      realm: "https://r.example/token",
      error: "invalid_token",
      scope: "repository:x:pull,push",
    });
    expect(parseChallenge("Basic")).toEqual({ scheme: "basic", params: {} });
  });

  it("returns null without a scheme", () => {
    expect(parseChallenge(null)).toBeNull();
    expect(parseChallenge("")).toBeNull();
    expect(parseChallenge('  ="x"')).toBeNull();
  });
});
