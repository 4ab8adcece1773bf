import { describe, expect, it } from "vitest";
import { classifyRequest, FrontRulesError, namespaceBucket, parseFrontRules, routeRequest } from "./rules.js";

const route = (rules: unknown, method: string, path: string, scope: string | null = null) =>
  routeRequest(parseFrontRules(rules), classifyRequest(method, path, scope, "library"));

describe("strangler front rules", () => {
  it("classifies path families, namespaces and repositories", () => {
    expect(classifyRequest("GET", "/v2/", null, "library")).toEqual({ family: "v2-read", namespace: null, repository: null });
    expect(classifyRequest("HEAD", "/v2/acme/team/app/manifests/v1", null, "library")).toEqual({
      family: "v2-read",
      namespace: "acme",
      repository: "acme/team/app",
    });
    expect(classifyRequest("PATCH", "/v2/alpine/blobs/uploads/x", null, "library")).toMatchObject({
      family: "v2-write",
      repository: "library/alpine",
    });
    expect(classifyRequest("GET", "/v2/auth", "repository:acme/app:pull", "library")).toMatchObject({
      family: "v2-auth",
      namespace: "acme",
    });
    expect(classifyRequest("DELETE", "/api/v1/repository/acme/app/tag/v1", null, "library")).toEqual({
      family: "api:repository",
      namespace: "acme",
      repository: "acme/app",
    });
    expect(classifyRequest("GET", "/api/v1/organization/acme/robots", null, "library")).toMatchObject({
      family: "api:organization",
      namespace: "acme",
    });
    expect(classifyRequest("GET", "/api/v1/repository/%E0%A4%A/app", null, "library").namespace).toBe("%E0%A4%A");
    expect(classifyRequest("GET", "/", null, "library").family).toBe("other");
  });

  it("routes by the first matching rule, to legacy by default and always under the kill switch", () => {
    const rules = {
      rules: [
        { id: "not-beta", families: ["*"], namespaces: ["beta"], target: "legacy" },
        { id: "reads", families: ["v2-read", "v2-auth"], exceptRepositories: ["acme/old"], target: "pier" },
        { id: "api-repos", families: ["api:repository"], repositories: ["acme/app"], target: "pier" },
      ],
    };
    expect(route(rules, "GET", "/v2/acme/app/manifests/v1")).toEqual({ target: "pier", rule: "reads" });
    expect(route(rules, "GET", "/v2/acme/old/manifests/v1")).toEqual({ target: "legacy", rule: "default" });
    expect(route(rules, "GET", "/v2/beta/app/manifests/v1")).toEqual({ target: "legacy", rule: "not-beta" });
    expect(route(rules, "PUT", "/v2/acme/app/manifests/v1")).toEqual({ target: "legacy", rule: "default" });
    expect(route(rules, "GET", "/api/v1/repository/acme/app")).toEqual({ target: "pier", rule: "api-repos" });
    expect(route(rules, "GET", "/api/v1/repository/acme/other")).toEqual({ target: "legacy", rule: "default" });
    expect(route({ ...rules, killSwitch: true }, "GET", "/v2/acme/app/manifests/v1")).toEqual({ target: "legacy", rule: "kill-switch" });
  });

  it("sends a stable share of namespaces by percentage: a namespace never flaps, and widening keeps the earlier ones", () => {
    const namespaces = Array.from({ length: 2000 }, (_, i) => `tenant${i}`);
    const onPier = (percent: number) =>
      new Set(
        namespaces.filter(
          (ns) =>
            route({ rules: [{ id: "canary", families: ["*"], percent, target: "pier" }] }, "GET", `/v2/${ns}/app/tags/list`).target ===
            "pier",
        ),
      );
    const ten = onPier(10);
    const thirty = onPier(30);
    expect(ten.size / namespaces.length).toBeGreaterThan(0.07);
    expect(ten.size / namespaces.length).toBeLessThan(0.13);
    expect(thirty.size / namespaces.length).toBeGreaterThan(0.26);
    expect(thirty.size / namespaces.length).toBeLessThan(0.34);
    for (const ns of ten) expect(thirty.has(ns)).toBe(true);
    expect(onPier(10)).toEqual(ten);
    expect(onPier(0).size).toBe(0);
    expect(onPier(100).size).toBe(namespaces.length);
    expect(namespaceBucket("tenant7")).toBe(namespaceBucket("tenant7"));
  });

  it("refuses rules it cannot apply, naming the field", () => {
    const bad: [unknown, RegExp][] = [
      [[], /JSON object/],
      [{ rules: {} }, /rules must be a list/],
      [{ rules: [{ id: "a", families: ["v2-read"], target: "quay" }] }, /target must be "pier" or "legacy"/],
      [{ rules: [{ id: "a", families: ["v3"], target: "pier" }] }, /families: "v3" is not valid/],
      [{ rules: [{ id: "a", families: [], target: "pier" }] }, /at least one path family/],
      [{ rules: [{ id: "a", families: ["*"], percent: 101, target: "pier" }] }, /percent must be an integer from 0 to 100/],
      [
        {
          rules: [
            { id: "a", families: ["*"], target: "pier" },
            { id: "a", families: ["*"], target: "pier" },
          ],
        },
        /used twice/,
      ],
      [{ rules: [{ id: "a", families: ["*"], target: "pier", repos: [] }] }, /unknown field "repos"/],
      [{ rules: [{ id: "a", families: ["*"], repositories: ["noslash"], target: "pier" }] }, /"noslash" is not valid/],
      [{ killSwitch: "yes", rules: [] }, /killSwitch must be true or false/],
    ];
    for (const [value, message] of bad) {
      expect(() => parseFrontRules(value)).toThrow(FrontRulesError);
      expect(() => parseFrontRules(value)).toThrow(message);
    }
  });
});
