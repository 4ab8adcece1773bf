/**
 * The benchmark images: a small one for the request benchmarks and a ~200 MB one
 * (four 50 MB layers of incompressible bytes) for pull wall time, written to an OCI
 * layout on disk by streaming and pushed with skopeo to every registry.
 */
import { join } from "node:path";
import { createOciLayout, type LayoutImage } from "../test/support/oci-layout.js";
import type { Skopeo } from "./skopeo.js";

export interface BenchImages {
  small: LayoutImage;
  big: LayoutImage;
  /** `oci:<dir>:<name>` sources for skopeo. */
  source(name: "small" | "big"): string;
}

export const BIG_LAYER_BYTES = 50_000_000;
/** Layers of the ~200 MB image (each BIG_LAYER_BYTES before its tar and gzip framing). */
export const BIG_LAYERS = 4;

export async function writeBenchImages(dir: string): Promise<BenchImages> {
  const layout = await createOciLayout(join(dir, "layout"));
  const small = await layout.addImage({ layerSizes: [1024, 8192] });
  await layout.tag("small", small.manifest);
  const big = await layout.addImage({ layerSizes: Array.from({ length: BIG_LAYERS }, () => BIG_LAYER_BYTES) });
  await layout.tag("big", big.manifest);
  return { small, big, source: (name) => `oci:${layout.dir}:${name}` };
}

/** Total bytes a pull of `image` transfers in blobs (config and layers). */
export function imageBytes(image: LayoutImage): number {
  return image.config.size + image.layers.reduce((sum, layer) => sum + layer.size, 0);
}

/**
 * Pushes both images to `host` as `<namespace>/small:v1` and `<namespace>/big:v1`,
 * timing each push; fails when the registry reports another manifest digest than the layout's.
 */
export async function pushBenchImages(
  skopeo: Skopeo,
  images: BenchImages,
  host: string,
  namespace: string,
  credentials?: string,
): Promise<{ small: number; big: number }> {
  const seconds = { small: 0, big: 0 };
  for (const name of ["small", "big"] as const) {
    const started = performance.now();
    const digest = await skopeo.push(images.source(name), `docker://${host}/${namespace}/${name}:v1`, credentials);
    seconds[name] = (performance.now() - started) / 1000;
    if (digest !== images[name].manifest.digest)
      throw new Error(`${host} stored ${name} as ${digest}, not ${images[name].manifest.digest}`);
  }
  return seconds;
}
