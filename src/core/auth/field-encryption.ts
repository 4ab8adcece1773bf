/**
 * Quay's encrypted columns (data/encryption.py, data/fields.py): robot tokens,
 * app-specific token secrets, upstream credentials. Stored as `v0$$<base64(nonce ‖
 * ciphertext ‖ tag)>`, AES-256-CCM with a 13-byte nonce and a 16-byte tag, no
 * associated data, keyed by DATABASE_SECRET_KEY through Quay's `convert_secret_key`.
 *
 * Web Crypto has no CCM, so it is built here from its two halves (NIST SP 800-38C):
 * CBC-MAC over B0 ‖ message (AES-CBC, zero IV) and CTR encryption (AES-CTR).
 */
import { equalBytes } from "./constant-time.js";

const NONCE_LENGTH = 13;
const TAG_LENGTH = 16;
const BLOCK = 16;
/** L = 15 − nonce length: the message length field is 2 bytes. */
const LENGTH_BYTES = 15 - NONCE_LENGTH;
const MAX_MESSAGE = 2 ** (8 * LENGTH_BYTES) - 1;
const PREFIX = "v0$$";

export class FieldDecryptionError extends Error {
  override name = "FieldDecryptionError";
}

function hexBytes(hex: string): Uint8Array | null {
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-f]+$/i.test(hex)) return null;
  return Uint8Array.from(hex.match(/../g)!, (pair) => parseInt(pair, 16));
}

function uuidBytes(text: string): Uint8Array | null {
  const bare = text
    .trim()
    .replace(/^urn:uuid:/i, "")
    .replace(/^\{|\}$/g, "")
    .replace(/-/g, "");
  return bare.length === 32 ? hexBytes(bare) : null;
}

/**
 * Quay's `convert_secret_key`: an integer → the bytes of its hex form; else a UUID → its
 * 16 bytes; else each character's code point — then repeated to exactly 32 bytes.
 */
export function convertSecretKey(secret: string): Uint8Array {
  let material: Uint8Array | null = null;
  if (/^\s*\+?\d+\s*$/.test(secret)) {
    const hex = BigInt(secret.trim()).toString(16);
    material = hexBytes(hex.length < 2 ? hex.padStart(2, "0") : hex);
  }
  material ??= uuidBytes(secret);
  if (material === null) {
    const codes = Array.from(secret, (ch) => ch.codePointAt(0)!);
    if (codes.some((c) => c > 255)) throw new Error("DATABASE_SECRET_KEY must be Latin-1 text, an integer or a UUID");
    material = Uint8Array.from(codes);
  }
  if (material.length === 0) throw new Error("DATABASE_SECRET_KEY is empty");
  return Uint8Array.from({ length: 32 }, (_, i) => material![i % material!.length]!);
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  return a.map((byte, i) => byte ^ b[i]!);
}

/** A field encrypter for one DATABASE_SECRET_KEY. */
export class FieldEncrypter {
  private readonly keys: Promise<{ cbc: CryptoKey; ctr: CryptoKey }>;

  constructor(secretKey: string) {
    const raw = convertSecretKey(secretKey) as Uint8Array<ArrayBuffer>;
    this.keys = Promise.all([
      crypto.subtle.importKey("raw", raw, "AES-CBC", false, ["encrypt"]),
      crypto.subtle.importKey("raw", raw, "AES-CTR", false, ["encrypt"]),
    ]).then(([cbc, ctr]) => ({ cbc, ctr }));
  }

  /** The column text Quay writes for `value`. */
  async encrypt(value: string): Promise<string> {
    const nonce = crypto.getRandomValues(new Uint8Array(NONCE_LENGTH));
    const plain = new TextEncoder().encode(value);
    const sealed = await this.seal(nonce, plain);
    return PREFIX + base64(concat(nonce, sealed));
  }

  /** The value of a column Quay wrote; FieldDecryptionError when it does not authenticate. */
  async decrypt(stored: string): Promise<string> {
    if (!stored.startsWith(PREFIX)) throw new FieldDecryptionError("not a v0 encrypted value");
    let bytes: Uint8Array;
    try {
      bytes = unbase64(stored.slice(PREFIX.length));
    } catch {
      throw new FieldDecryptionError("invalid base64");
    }
    if (bytes.length < NONCE_LENGTH + TAG_LENGTH) throw new FieldDecryptionError("value too short");
    const nonce = bytes.subarray(0, NONCE_LENGTH);
    const body = bytes.subarray(NONCE_LENGTH, bytes.length - TAG_LENGTH);
    const tag = bytes.subarray(bytes.length - TAG_LENGTH);
    const stream = await this.keystream(nonce, body.length);
    const plain = xor(body, stream.subarray(BLOCK));
    const expected = xor(await this.mac(nonce, plain), stream.subarray(0, TAG_LENGTH));
    if (!equalBytes(expected, tag)) throw new FieldDecryptionError("authentication failed");
    try {
      return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(plain);
    } catch {
      throw new FieldDecryptionError("not UTF-8");
    }
  }

  private async seal(nonce: Uint8Array, plain: Uint8Array): Promise<Uint8Array> {
    const stream = await this.keystream(nonce, plain.length);
    const tag = xor(await this.mac(nonce, plain), stream.subarray(0, TAG_LENGTH));
    return concat(xor(plain, stream.subarray(BLOCK)), tag);
  }

  /** S0 ‖ S1 ‖ …: the CTR keystream from counter 0, covering `length` message bytes after S0. */
  private async keystream(nonce: Uint8Array, length: number): Promise<Uint8Array> {
    if (length > MAX_MESSAGE) throw new FieldDecryptionError("value too long");
    const counter = new Uint8Array(BLOCK);
    counter[0] = LENGTH_BYTES - 1;
    counter.set(nonce, 1);
    const { ctr } = await this.keys;
    const zeros = new Uint8Array(BLOCK + length);
    return new Uint8Array(await crypto.subtle.encrypt({ name: "AES-CTR", counter, length: 8 * LENGTH_BYTES }, ctr, zeros));
  }

  /** CBC-MAC over B0 ‖ message (zero-padded): the last cipher block of a zero-IV AES-CBC run. */
  private async mac(nonce: Uint8Array, plain: Uint8Array): Promise<Uint8Array> {
    const blocks = 1 + Math.ceil(plain.length / BLOCK);
    const input = new Uint8Array(blocks * BLOCK);
    input[0] = 8 * ((TAG_LENGTH - 2) / 2) + (LENGTH_BYTES - 1);
    input.set(nonce, 1);
    input[14] = plain.length >> 8;
    input[15] = plain.length & 0xff;
    input.set(plain, BLOCK);
    const { cbc } = await this.keys;
    const out = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-CBC", iv: new Uint8Array(BLOCK) }, cbc, input));
    // Web Crypto appends a padding block; the MAC is the block before it.
    return out.subarray((blocks - 1) * BLOCK, blocks * BLOCK);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function base64(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

function unbase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
}
