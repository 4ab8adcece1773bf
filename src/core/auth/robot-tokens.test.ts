import { describe, expect, it } from "vitest";
import { isPierToken, isRobotToken, mintRobotToken, robotTokenHash, ROBOT_TOKEN_PLACEHOLDER } from "./robot-tokens.js";

describe("prefixed robot tokens", () => {
  it("mint distinct pier_rbt_ tokens whose checksum holds", () => {
    const tokens = new Set(Array.from({ length: 200 }, mintRobotToken));
    expect(tokens.size).toBe(200);
    for (const token of tokens) {
      expect(token).toMatch(/^pier_rbt_[0-9A-Za-z]{42}$/);
      expect(isRobotToken(token)).toBe(true);
    }
  });

  it("refuse a changed character, a wrong length and Quay's tokens", () => {
    const token = mintRobotToken();
    for (let i = "pier_rbt_".length; i < token.length; i++) {
      const changed = token.slice(0, i) + (token[i] === "x" ? "y" : "x") + token.slice(i + 1);
      expect(isRobotToken(changed), changed).toBe(false);
    }
    expect(isRobotToken(token + "a")).toBe(false);
    expect(isRobotToken("A".repeat(64))).toBe(false);
    expect(isPierToken("A".repeat(64))).toBe(false);
    expect(isPierToken(ROBOT_TOKEN_PLACEHOLDER + "A".repeat(64))).toBe(true);
  });

  it("hash with SHA-256", async () => {
    expect(await robotTokenHash("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});
