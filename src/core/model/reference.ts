/** The `<reference>` of a manifest URL: a tag or a digest. */
import { parseSupportedDigest, type Digest } from "./digest.js";
import { isValidTag } from "./names.js";

export type Reference = { kind: "tag"; tag: string } | { kind: "digest"; digest: Digest };

/** Null when the text is neither a valid tag nor a well-formed sha256 or sha512 digest. */
export function parseReference(text: string): Reference | null {
  if (text.includes(":")) {
    const digest = parseSupportedDigest(text);
    return digest ? { kind: "digest", digest } : null;
  }
  return isValidTag(text) ? { kind: "tag", tag: text } : null;
}
