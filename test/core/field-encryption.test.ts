/**
 * Quay's encrypted columns: Pier's Web Crypto AES-CCM against OpenSSL's (node:crypto),
 * both ways, and Quay's DATABASE_SECRET_KEY conversion.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { convertSecretKey, FieldDecryptionError, FieldEncrypter } from "../../src/core/auth/field-encryption.js";

const SECRET = "a-database-secret-key-of-some-length";

function opensslEncrypt(key: Uint8Array, value: string): string {
  const nonce = randomBytes(13);
  const cipher = createCipheriv("aes-256-ccm", key, nonce, { authTagLength: 16 });
  const body = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
  return `v0$$${Buffer.concat([nonce, body, cipher.getAuthTag()]).toString("base64")}`;
}

function opensslDecrypt(key: Uint8Array, stored: string): string {
  const bytes = Buffer.from(stored.slice(4), "base64");
  const decipher = createDecipheriv("aes-256-ccm", key, bytes.subarray(0, 13), { authTagLength: 16 });
  decipher.setAuthTag(bytes.subarray(bytes.length - 16));
  return Buffer.concat([decipher.update(bytes.subarray(13, bytes.length - 16)), decipher.final()]).toString("utf8");
}

describe("convertSecretKey", () => {
  it("repeats the character codes of text keys to 32 bytes", () => {
    expect(Buffer.from(convertSecretKey("abc")).toString("latin1")).toBe("abc".repeat(11).slice(0, 32));
  });

  it("uses the bytes of an integer's hex form, and a UUID's 16 bytes", () => {
    expect([...convertSecretKey("255")]).toEqual(Array(32).fill(0xff));
    expect([...convertSecretKey("4660")].slice(0, 4)).toEqual([0x12, 0x34, 0x12, 0x34]);
    const uuid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    const bytes = Buffer.from(uuid.replace(/-/g, ""), "hex");
    expect(Buffer.from(convertSecretKey(uuid))).toEqual(Buffer.concat([bytes, bytes]));
  });
});

describe("FieldEncrypter", () => {
  const key = convertSecretKey(SECRET);
  const encrypter = new FieldEncrypter(SECRET);

  it("decrypts what OpenSSL's AES-256-CCM wrote, for every length up to several blocks", async () => {
    for (const value of ["", "x", "A".repeat(16), "ROBOTTOKEN".repeat(7).slice(0, 64), "ünïcødé ☃ ".repeat(9)]) {
      expect(await encrypter.decrypt(opensslEncrypt(key, value))).toBe(value);
    }
  });

  it("writes values OpenSSL decrypts, in Quay's v0$$ format with a fresh nonce each time", async () => {
    const value = "K7Q2ZP0A9M3B4C5D6E7F8G9H0J1K2L3M4N5O6P7Q8R9S0T1U2V3W4X5Y6Z7A8B9C";
    const first = await encrypter.encrypt(value);
    expect(first).toMatch(/^v0\$\$[A-Za-z0-9+/]+=*$/);
    expect(opensslDecrypt(key, first)).toBe(value);
    expect(await encrypter.encrypt(value)).not.toBe(first);
  });

  it("refuses tampered values, other keys and malformed text", async () => {
    const stored = opensslEncrypt(key, "secret-value");
    const bytes = Buffer.from(stored.slice(4), "base64");
    bytes[15]! ^= 1;
    await expect(encrypter.decrypt(`v0$$${bytes.toString("base64")}`)).rejects.toBeInstanceOf(FieldDecryptionError);
    await expect(new FieldEncrypter("another key").decrypt(stored)).rejects.toBeInstanceOf(FieldDecryptionError);
    for (const bad of ["plain", "v1$$AAAA", "v0$$***", "v0$$AAAA"]) {
      await expect(encrypter.decrypt(bad), bad).rejects.toBeInstanceOf(FieldDecryptionError);
    }
  });
});
