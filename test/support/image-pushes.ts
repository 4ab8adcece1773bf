/**
 * Pushing small OCI images through /v2 in job tests: blobs by monolithic upload, then
 * the manifest by tag or by its own digest; every step asserted to succeed.
 */
import { createHash } from "node:crypto";
import { expect } from "vitest";
import { MediaType } from "../../src/core/model/media-types.js";

export const sha256 = (text: string) => `sha256:${createHash("sha256").update(text).digest("hex")}`;

/** Sends a request to the registry under test, as a caller allowed to push to the namespace's repositories. */
export type PushCall = (method: string, path: string, body?: string, contentType?: string) => Promise<Response>;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface PushedImage {
  digest: string;
  /** The config's digest first, then the layers'. */
  blobs: string[];
}

export interface ImagePusher {
  upload(repository: string, content: string): Promise<Descriptor>;
  /** An image whose config names `seed`, of `layers`, under `reference` (a tag) or, when null, its own digest. */
  push(repository: string, reference: string | null, seed: string, layers: readonly string[], extra?: object): Promise<PushedImage>;
}

export function imagePusher(namespace: string, call: PushCall): ImagePusher {
  async function upload(repository: string, content: string): Promise<Descriptor> {
    const response = await call("POST", `/v2/${namespace}/${repository}/blobs/uploads/?digest=${sha256(content)}`, content);
    expect(response.status, `upload to ${repository}`).toBe(201);
    return { mediaType: "application/octet-stream", digest: sha256(content), size: Buffer.byteLength(content) };
  }
  return {
    upload,
    async push(repository, reference, seed, layers, extra = {}) {
      const config = await upload(repository, JSON.stringify({ os: "linux", seed }));
      const descriptors = [];
      for (const layer of layers) descriptors.push(await upload(repository, layer));
      const text = JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers: descriptors, ...extra });
      const path = `/v2/${namespace}/${repository}/manifests/${reference ?? sha256(text)}`;
      expect((await call("PUT", path, text, MediaType.ociManifest)).status, `manifest PUT ${repository}:${reference}`).toBe(201);
      return { digest: sha256(text), blobs: [config.digest, ...descriptors.map((d) => d.digest)] };
    },
  };
}
