import { describe, expect, it } from "vitest";
import { isValidTag, parseDistributionName, parseRepositoryName } from "./names.js";

describe("repository names", () => {
  it("splits at the first slash and allows nested repository paths", () => {
    expect(parseRepositoryName("acme/app")).toEqual({ namespace: "acme", repository: "app", full: "acme/app" });
    expect(parseRepositoryName("acme/team/app")).toEqual({ namespace: "acme", repository: "team/app", full: "acme/team/app" });
  });

  it("maps a single component to the library namespace", () => {
    expect(parseRepositoryName("nginx")?.full).toBe("library/nginx");
    expect(parseRepositoryName("nginx", "mirror")?.full).toBe("mirror/nginx");
  });

  it("rejects upper case, empty components, leading separators and over-long names", () => {
    for (const bad of ["Acme/app", "acme//app", "acme/", "/app", "acme/-app", "a/app", `acme/${"a".repeat(256)}`, "acme/app/"]) {
      expect(parseRepositoryName(bad), bad).toBeNull();
    }
  });
});

describe("/v2 path names", () => {
  it("follow the spec's grammar on top of Quay's rules", () => {
    expect(parseDistributionName("acme/my-app__x.y/z")?.full).toBe("acme/my-app__x.y/z");
    expect(parseDistributionName("nginx")?.full).toBe("library/nginx");
    for (const bad of ["acme/a..b", "acme/app.", "acme/a___b", "acme/_app", "acme%2Fapp", "acme/app\0", "a/app"]) {
      expect(parseDistributionName(bad), bad).toBeNull();
    }
  });
});

describe("tags", () => {
  it("follows the 128-character tag grammar", () => {
    expect(isValidTag("latest")).toBe(true);
    expect(isValidTag("v1.2.3-rc_1")).toBe(true);
    expect(isValidTag("a".repeat(128))).toBe(true);
    expect(isValidTag("a".repeat(129))).toBe(false);
    expect(isValidTag(".hidden")).toBe(false);
    expect(isValidTag("-x")).toBe(false);
    expect(isValidTag("")).toBe(false);
  });
});
