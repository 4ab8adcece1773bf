/** Manifest media types Pier stores and serves (Quay's `mediatype` rows for manifests). */
export const MediaType = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerSchema1: "application/vnd.docker.distribution.manifest.v1+json",
  dockerSchema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
} as const;

export type ManifestMediaType = (typeof MediaType)[keyof typeof MediaType];

const LISTS: ReadonlySet<string> = new Set([MediaType.ociIndex, MediaType.dockerManifestList]);
const SCHEMA1: ReadonlySet<string> = new Set([MediaType.dockerSchema1, MediaType.dockerSchema1Signed]);
const MANIFESTS: ReadonlySet<string> = new Set(Object.values(MediaType));

export function isManifestList(mediaType: string): boolean {
  return LISTS.has(mediaType);
}

export function isSchema1(mediaType: string): boolean {
  return SCHEMA1.has(mediaType);
}

export function isManifestMediaType(mediaType: string): boolean {
  return MANIFESTS.has(mediaType);
}
