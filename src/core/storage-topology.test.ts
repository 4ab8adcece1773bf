import { describe, expect, it } from "vitest";
import { ConfigError, loadRegistryConfig } from "./config.js";
import { loadLocationSettings, nearestLocation, readOrder } from "./storage-topology.js";

const LOCATIONS = JSON.stringify({ us: { bucket: "pier-us" }, eu: { bucket: "pier-eu", region: "eu-west-1" }, ap: { dir: "/srv/ap" } });

describe("storage topology (geo-replication settings)", () => {
  it("puts the preference's first location first and reads from the rest after it", () => {
    const config = loadRegistryConfig({ PIER_STORAGE_LOCATIONS: LOCATIONS, PIER_STORAGE_PREFERENCE: "eu us" });
    expect(config.storageLocation).toBe("eu");
    expect(config.storage.locations).toEqual(["eu", "us", "ap"]);
    expect(config.storage.preference).toEqual(["eu", "us", "ap"]);
    expect(config.storage.replication).toBe(false);
  });

  it("takes the first configured location as the writer's without a preference", () => {
    const config = loadRegistryConfig({ PIER_STORAGE_LOCATIONS: LOCATIONS, PIER_STORAGE_DEFAULT_LOCATIONS: "us,eu" });
    expect(config.storageLocation).toBe("us");
    expect(config.storage.defaultLocations).toEqual(["us", "eu"]);
  });

  it("refuses an unknown location name at startup, naming it", () => {
    for (const [name, value] of [
      ["PIER_STORAGE_PREFERENCE", "us mars"],
      ["PIER_STORAGE_DEFAULT_LOCATIONS", "mars"],
      ["PIER_STORAGE_LOCATION", "mars"],
      ["PIER_STORAGE_REGION_MAP", JSON.stringify({ "continent:EU": "mars" })],
    ]) {
      expect(() => loadRegistryConfig({ PIER_STORAGE_LOCATIONS: LOCATIONS, [name!]: value })).toThrow(ConfigError);
      expect(() => loadRegistryConfig({ PIER_STORAGE_LOCATIONS: LOCATIONS, [name!]: value })).toThrow(/"mars"/);
      expect(() => loadRegistryConfig({ PIER_STORAGE_LOCATIONS: LOCATIONS, [name!]: value })).toThrow(name!);
    }
    // Without PIER_STORAGE_LOCATIONS the single location is the only name.
    expect(() => loadRegistryConfig({ PIER_STORAGE_DEFAULT_LOCATIONS: "eu" })).toThrow(/storage location "eu"/);
  });

  it("refuses malformed settings with the variable's name", () => {
    expect(() => loadRegistryConfig({ PIER_STORAGE_LOCATIONS: "[1]" })).toThrow(/PIER_STORAGE_LOCATIONS must be a JSON object/);
    expect(() => loadRegistryConfig({ PIER_STORAGE_LOCATIONS: "{}" })).toThrow(/at least one/);
    expect(() => loadRegistryConfig({ PIER_STORAGE_LOCATIONS: LOCATIONS, PIER_STORAGE_REGION_MAP: '{"EU": "eu"}' })).toThrow(/country:XX/);
    expect(() =>
      loadRegistryConfig({ PIER_STORAGE_LOCATIONS: LOCATIONS, PIER_STORAGE_PREFERENCE: "eu", PIER_STORAGE_LOCATION: "us" }),
    ).toThrow(/must equal PIER_STORAGE_LOCATION/);
    expect(() => loadLocationSettings({ PIER_STORAGE_LOCATIONS: JSON.stringify({ us: { endpoint: "http://s3", region: "x" } }) })).toThrow(
      /\["us"\]\.bucket/,
    );
    expect(() => loadLocationSettings({ PIER_STORAGE_LOCATIONS: JSON.stringify({ us: { bucket: "b" } }) })).toThrow(/\["us"\]\.endpoint/);
  });

  it("fills S3 fields a location leaves out from S3_*", () => {
    const settings = loadLocationSettings({
      PIER_STORAGE_LOCATIONS: LOCATIONS,
      S3_ENDPOINT: "http://s3.local",
      S3_ACCESS_KEY_ID: "id",
      S3_SECRET_ACCESS_KEY: "secret",
    })!;
    expect(settings.get("eu")).toEqual({
      kind: "s3",
      s3: {
        endpoint: "http://s3.local",
        bucket: "pier-eu",
        region: "eu-west-1",
        accessKeyId: "id",
        secretAccessKey: "secret",
        storagePath: undefined,
      },
      akamai: null,
    });
    expect(settings.get("ap")).toEqual({ kind: "dir", dir: "/srv/ap" });
  });

  it("orders reads: the client's nearest, then the preference, then any placement", () => {
    const { storage } = loadRegistryConfig({
      PIER_STORAGE_LOCATIONS: LOCATIONS,
      PIER_STORAGE_PREFERENCE: "us eu",
      PIER_STORAGE_REGION_MAP: JSON.stringify({ "continent:EU": "eu", "country:jp": "ap", "continent:AS": "eu" }),
    });
    expect(nearestLocation(storage, { country: "JP", continent: "AS" })).toBe("ap");
    expect(nearestLocation(storage, { country: "IN", continent: "AS" })).toBe("eu");
    expect(nearestLocation(storage, { country: "BR", continent: "SA" })).toBeNull();
    expect(readOrder(storage, ["us", "eu"], { continent: "EU" })).toEqual(["eu", "us"]);
    expect(readOrder(storage, ["us", "eu"], null)).toEqual(["us", "eu"]);
    expect(readOrder(storage, ["us"], { continent: "EU" })).toEqual(["us"]);
    expect(readOrder(storage, ["elsewhere"], null)).toEqual(["elsewhere"]);
  });

  it("reads Quay's [driver, {parameters}] form of DISTRIBUTED_STORAGE_CONFIG", () => {
    const settings = loadLocationSettings({
      PIER_STORAGE_LOCATIONS: JSON.stringify({
        local_us: [
          "S3Storage",
          { s3_bucket: "us", storage_path: "/registry", s3_access_key: "a", s3_secret_key: "b", s3_region: "us-west-2" },
        ],
        local_eu: [
          "RadosGWStorage",
          { hostname: "rgw.eu", port: 8080, is_secure: false, access_key: "c", secret_key: "d", bucket_name: "eu", storage_path: "/r" },
        ],
        cdn: [
          "AkamaiS3Storage",
          {
            s3_bucket: "cdn",
            storage_path: "",
            akamai_domain: "cdn.example",
            akamai_shared_secret: "0a0b",
            endpoint_url: "http://s3.local",
          },
        ],
        disk: ["LocalStorage", { storage_path: "/datastorage/registry" }],
      }),
      S3_ACCESS_KEY_ID: "env-id",
      S3_SECRET_ACCESS_KEY: "env-secret",
    })!;
    expect(settings.get("local_us")).toEqual({
      kind: "s3",
      s3: {
        endpoint: "https://s3.us-west-2.amazonaws.com",
        bucket: "us",
        region: "us-west-2",
        accessKeyId: "a",
        secretAccessKey: "b",
        storagePath: "/registry",
      },
      akamai: null,
    });
    expect(settings.get("local_eu")).toMatchObject({ kind: "s3", s3: { endpoint: "http://rgw.eu:8080", bucket: "eu", accessKeyId: "c" } });
    expect(settings.get("cdn")).toMatchObject({
      kind: "s3",
      s3: { endpoint: "http://s3.local", accessKeyId: "env-id" },
      akamai: { domain: "cdn.example", sharedSecretHex: "0a0b" },
    });
    expect(settings.get("disk")).toEqual({ kind: "dir", dir: "/datastorage/registry" });
    const refusal = (entry: unknown) => () => loadLocationSettings({ PIER_STORAGE_LOCATIONS: JSON.stringify({ g: entry }) });
    expect(refusal(["GoogleCloudStorage", {}])).toThrow(/^PIER_STORAGE_LOCATIONS\["g"\]: GoogleCloudStorage is not supported/);
    expect(refusal(["S3Storage", { s3_bucket: "b", s3_regoin: "x" }])).toThrow(
      'PIER_STORAGE_LOCATIONS["g"].s3_regoin: not a parameter of S3Storage',
    );
    expect(refusal(["S3Storage", { s3_bucket: "b" }])).toThrow('PIER_STORAGE_LOCATIONS["g"].s3_access_key must be a non-empty string');
    expect(refusal(["LocalStorage"])).toThrow(/must be \[DriverName, \{parameters\}\]/);
  });
});
