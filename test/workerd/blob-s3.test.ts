import { env } from "cloudflare:workers";
import { s3BlobStore } from "../../src/adapters/blob/s3.js";
import { runBlobStoreSuite } from "../suites/blob-store.js";

runBlobStoreSuite("s3 (aws4fetch) in workerd", async () => {
  const store = s3BlobStore({
    endpoint: env.S3_ENDPOINT,
    bucket: env.S3_BUCKET,
    region: env.S3_REGION,
    accessKeyId: env.S3_ACCESS_KEY_ID,
    secretAccessKey: env.S3_SECRET_ACCESS_KEY,
  });
  // The bucket is shared with the other workerd tests; the stack removes it afterwards.
  return { store, prefix: `blob-suite/${crypto.randomUUID()}/`, cleanup: async () => {} };
});
