/**
 * Writes OCI image layouts (image-spec `image-layout.md`: `oci-layout`, `index.json`,
 * `blobs/sha256/<hex>`) for clients to push from (`skopeo copy oci:<dir>:<ref> …`).
 *
 * Each layer is a real gzip'd tar holding one file of pseudo-random bytes, so clients
 * that unpack layers (podman) accept it and the config's `diff_ids` are true. Layer
 * bytes are generated, hashed and written chunk by chunk: a layer of any size costs a
 * few MiB of memory. Gzip runs at level 0 (stored blocks): random bytes do not
 * compress, and a real gzip stream keeps clients from recompressing the layer.
 */
import { createCipheriv, createHash, randomBytes, type Hash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";

export const OciMediaType = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar+gzip",
} as const;

export interface Platform {
  os: string;
  architecture: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface LayoutImage {
  manifest: Descriptor;
  config: Descriptor;
  layers: Descriptor[];
  /** Digests of the uncompressed layer tars (the config's `rootfs.diff_ids`). */
  diffIds: string[];
}

export interface OciLayout {
  dir: string;
  /** Where a blob of this layout lives on disk. */
  blobPath(digest: string): string;
  /** Writes layers (each holding a file of `layerSizes[i]` bytes), config and manifest; tags nothing. */
  addImage(options: { layerSizes: readonly number[]; platform?: Platform }): Promise<LayoutImage>;
  /** Writes an image index over images (with their platforms); tags nothing. */
  addIndex(images: readonly { image: LayoutImage; platform: Platform }[]): Promise<Descriptor>;
  /** Names a manifest or index `ref` in `index.json` (`org.opencontainers.image.ref.name`). */
  tag(ref: string, descriptor: Descriptor): Promise<void>;
}

const CHUNK = 1 << 20;
const TAR_BLOCK = 512;
const REF_NAME = "org.opencontainers.image.ref.name";

const sha256Text = (hash: Hash) => `sha256:${hash.digest("hex")}`;

/** A ustar header for one regular file (mode 0644, owned by root, fixed mtime). */
function tarHeader(name: string, size: number): Buffer {
  const header = Buffer.alloc(TAR_BLOCK);
  const field = (offset: number, length: number, text: string) => header.write(text, offset, length, "ascii");
  const octal = (offset: number, length: number, value: number) => field(offset, length, value.toString(8).padStart(length - 1, "0"));
  field(0, 100, name);
  octal(100, 8, 0o644);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, size);
  octal(136, 12, 1_700_000_000);
  field(148, 8, " ".repeat(8));
  field(156, 1, "0");
  field(257, 6, "ustar\0");
  field(263, 2, "00");
  field(265, 32, "root");
  field(297, 32, "root");
  let sum = 0;
  for (const byte of header) sum += byte;
  field(148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  return header;
}

/** A tar of one file holding `size` bytes of an AES-CTR keystream (fast, incompressible). */
async function* tarOfRandomFile(name: string, size: number): AsyncGenerator<Buffer> {
  yield tarHeader(name, size);
  const keystream = createCipheriv("aes-256-ctr", randomBytes(32), randomBytes(16));
  const zeros = Buffer.alloc(CHUNK);
  for (let left = size; left > 0; left -= CHUNK) yield keystream.update(zeros.subarray(0, Math.min(CHUNK, left)));
  yield Buffer.alloc(((TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK) + 2 * TAR_BLOCK);
}

/** A pipeline step that hashes and counts what passes through. */
function tap(hash: Hash, counted: { bytes: number }) {
  return async function* (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      hash.update(chunk);
      counted.bytes += chunk.byteLength;
      yield chunk;
    }
  };
}

/** Creates the layout's skeleton in `dir` (which may exist) and returns its writer. */
export async function createOciLayout(dir: string): Promise<OciLayout> {
  const blobDir = join(dir, "blobs", "sha256");
  await mkdir(blobDir, { recursive: true });
  await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const tagged: Descriptor[] = [];
  let layers = 0;

  const blobPath = (digest: string) => join(blobDir, digest.slice("sha256:".length));

  async function writeJson(mediaType: string, value: unknown): Promise<Descriptor> {
    const bytes = Buffer.from(JSON.stringify(value));
    const digest = sha256Text(createHash("sha256").update(bytes));
    await writeFile(blobPath(digest), bytes);
    return { mediaType, digest, size: bytes.byteLength };
  }

  async function writeLayer(size: number): Promise<{ layer: Descriptor; diffId: string }> {
    const partial = join(blobDir, `.partial-${process.pid}-${++layers}`);
    const tarHash = createHash("sha256");
    const blobHash = createHash("sha256");
    const tar = { bytes: 0 };
    const blob = { bytes: 0 };
    await pipeline(
      tarOfRandomFile(`layer-${layers}.bin`, size),
      tap(tarHash, tar),
      createGzip({ level: 0, chunkSize: CHUNK }),
      tap(blobHash, blob),
      createWriteStream(partial),
    );
    const digest = sha256Text(blobHash);
    await rename(partial, blobPath(digest));
    return { layer: { mediaType: OciMediaType.layer, digest, size: blob.bytes }, diffId: sha256Text(tarHash) };
  }

  return {
    dir,
    blobPath,
    async addImage({ layerSizes, platform = { os: "linux", architecture: "amd64" } }) {
      const written = [];
      for (const size of layerSizes) written.push(await writeLayer(size));
      const diffIds = written.map((w) => w.diffId);
      const config = await writeJson(OciMediaType.config, {
        ...platform,
        config: {},
        rootfs: { type: "layers", diff_ids: diffIds },
        history: diffIds.map(() => ({ created_by: "pier e2e" })),
      });
      const layersOf = written.map((w) => w.layer);
      const manifest = await writeJson(OciMediaType.manifest, {
        schemaVersion: 2,
        mediaType: OciMediaType.manifest,
        config,
        layers: layersOf,
      });
      return { manifest, config, layers: layersOf, diffIds };
    },
    async addIndex(images) {
      return writeJson(OciMediaType.index, {
        schemaVersion: 2,
        mediaType: OciMediaType.index,
        manifests: images.map(({ image, platform }) => ({ ...image.manifest, platform })),
      });
    },
    async tag(ref, descriptor) {
      const others = tagged.filter((d) => d.annotations?.[REF_NAME] !== ref);
      tagged.splice(0, tagged.length, ...others, { ...descriptor, annotations: { [REF_NAME]: ref } });
      await writeFile(join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, mediaType: OciMediaType.index, manifests: tagged }));
    },
  };
}
