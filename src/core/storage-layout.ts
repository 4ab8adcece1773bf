/**
 * Quay's object-key layout (storage/basestorage.py), relative to a driver's root:
 *
 *   <root>/
 *   ├── sha256/ab/abcdef…               content-addressed blobs: <alg>/<first 2 hex>/<hex>
 *   ├── sha512/0f/0f12…                 ('+' and '.' in the algorithm become '/')
 *   ├── uploads/<uuid>                  in-progress uploads (one object per chunk on S3)
 *   └── sharedimages/<uuid>/layer       legacy non-CAS storages (imagestorage.cas_path = false)
 */
const QUAY_DIGEST = /^([A-Za-z0-9_+.-]+):([A-Fa-f0-9]+)$/;

/** Key of a content-addressed blob; null for a digest Quay could not store. */
export function blobKey(digest: string): string | null {
  const match = QUAY_DIGEST.exec(digest);
  if (!match) return null;
  const [, algorithm, hex] = match as unknown as [string, string, string];
  const folder = algorithm.replace(/[+.]/g, "/").replace(/\/+/g, "/").replace(/^\//, "");
  return `${folder}/${hex.slice(0, 2).padStart(2, "0")}/${hex}`;
}

export function uploadKey(uuid: string): string {
  return `uploads/${uuid}`;
}

export function legacyBlobKey(storageUuid: string): string {
  return `sharedimages/${storageUuid}/layer`;
}
