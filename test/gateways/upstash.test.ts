/**
 * The local Upstash REST gateway, driven by the real @upstash/redis client and by raw
 * fetch where the wire format (encoding, status codes, error bodies) is the point.
 */
import { Redis as Upstash } from "@upstash/redis";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startUpstashGateway, type UpstashGateway } from "../../scripts/gateways/upstash.js";
import { REDIS_URL, uniquePrefix } from "../support/services.js";

const b64 = (text: string) => Buffer.from(text).toString("base64");

describe("Upstash REST gateway", () => {
  const token = crypto.randomUUID();
  const prefix = uniquePrefix("upstash");
  const key = (name: string) => prefix + name;
  let gateway: UpstashGateway;
  let direct: Redis;

  /** The client as an edge Worker builds it, with base64 replies unless told otherwise. */
  const client = (options: { token?: string; responseEncoding?: false } = {}) =>
    new Upstash({ url: gateway.url, token, automaticDeserialization: false, enableTelemetry: false, retry: false, ...options });

  function rest(path: string, body: unknown, options: { base64?: boolean; auth?: string } = {}): Promise<Response> {
    const headers: Record<string, string> = { "Content-Type": "application/json", Authorization: options.auth ?? `Bearer ${token}` };
    if (options.base64 ?? true) headers["Upstash-Encoding"] = "base64";
    return fetch(gateway.url + path, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });
  }

  beforeAll(async () => {
    gateway = await startUpstashGateway({ token, redisUrl: REDIS_URL });
    direct = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    await gateway?.close();
    const keys = await direct.keys(`${prefix}*`);
    if (keys.length > 0) await direct.del(...keys);
    await direct.quit();
  });

  describe("single commands", () => {
    it("encodes replies in base64 except the OK status; numbers and nil stay JSON", async () => {
      const set = await rest("/", ["SET", key("s"), "v ☃", "EX", 60]);
      expect(set.status).toBe(200);
      expect(set.headers.get("content-type")).toBe("application/json");
      expect(await set.json()).toEqual({ result: "OK" });
      expect(await (await rest("/", ["GET", key("s")])).json()).toEqual({ result: b64("v ☃") });
      expect(await (await rest("/", ["GET", key("absent")])).json()).toEqual({ result: null });
      expect(await (await rest("/", ["INCRBY", key("n"), 5])).json()).toEqual({ result: 5 });
      expect(await (await rest("/", ["PING"])).json()).toEqual({ result: b64("PONG") });
      expect(await (await rest("/", ["MGET", key("s"), key("absent")])).json()).toEqual({ result: [b64("v ☃"), null] });
      const nested = await rest("/", ["EVAL", "return {1, {2, 'a', {false}}, redis.status_reply('FINE')}", 0]);
      expect(await nested.json()).toEqual({ result: [1, [2, b64("a"), [null]], b64("FINE")] });
    });

    it("answers plain text without Upstash-Encoding", async () => {
      await rest("/", ["SET", key("p"), "plain ☃", "EX", 60]);
      expect(await (await rest("/", ["GET", key("p")], { base64: false })).json()).toEqual({ result: "plain ☃" });
      expect(await (await rest("/", ["MGET", key("p"), key("absent")], { base64: false })).json()).toEqual({ result: ["plain ☃", null] });
      expect(await (await rest("/", ["PING"], { base64: false })).json()).toEqual({ result: "PONG" });
    });

    it("returns binary values byte for byte in base64", async () => {
      const bytes = Buffer.from([0xff, 0x00, 0xfe, 0x80, 0x0a]);
      await direct.set(key("bin"), bytes, "EX", 60);
      const { result } = await (await rest("/", ["GET", key("bin")])).json();
      expect(Buffer.compare(Buffer.from(result, "base64"), bytes)).toBe(0);
    });

    it("reports a command error as HTTP 400 with {error}", async () => {
      await rest("/", ["SET", key("text"), "abc", "EX", 60]);
      const response = await rest("/", ["INCR", key("text")]);
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({ error: "ERR value is not an integer or out of range" });
      const unknown = await rest("/", ["NOSUCHCOMMAND"]);
      expect(unknown.status).toBe(400);
      expect((await unknown.json()).error).toMatch(/^ERR unknown command/);
    });

    it("refuses malformed requests and commands that would take over the connection", async () => {
      for (const body of ["{nope", "{}", "[]", '[["GET"]]', '["GET", {"a": 1}]']) {
        const response = await rest("/", body);
        expect(response.status, body).toBe(400);
        expect(typeof (await response.json()).error).toBe("string");
      }
      for (const command of [["SUBSCRIBE", "x"], ["MULTI"], ["SELECT", "1"], ["MONITOR"]]) {
        expect((await rest("/", command)).status, command[0]).toBe(400);
      }
      expect((await fetch(gateway.url, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(405);
      expect((await rest("/elsewhere", ["PING"])).status).toBe(404);
      expect((await rest("/", ["SET", key("big"), "x".repeat(10 * 1024 * 1024)])).status).toBe(413);
    });
  });

  describe("authentication", () => {
    it("answers 401 with Upstash's error body for a wrong, missing or non-bearer token", async () => {
      for (const auth of [`Bearer ${token}x`, "Bearer ", "", `Basic ${token}`, token]) {
        const response = await rest("/", ["PING"], { auth });
        expect(response.status, auth).toBe(401);
        expect(await response.json()).toEqual({ error: "Unauthorized" });
      }
      expect((await rest("/pipeline", [["PING"]], { auth: "Bearer wrong" })).status).toBe(401);
    });

    it("makes the client fail with Unauthorized", async () => {
      await expect(client({ token: "wrong" }).get(key("s"))).rejects.toThrow(/Unauthorized/);
    });
  });

  describe("through the client", () => {
    for (const encoding of ["base64", "plain"] as const) {
      it(`round-trips unicode values and command results (${encoding} replies)`, async () => {
        const redis = encoding === "base64" ? client() : client({ responseEncoding: false });
        const value = `snow ☃ \u0000 end 😀 ${encoding}`;
        expect(await redis.set(key(`u-${encoding}`), value, { ex: 60 })).toBe("OK");
        expect(await redis.get(key(`u-${encoding}`))).toBe(value);
        expect(await redis.mget(key(`u-${encoding}`), key("absent"))).toEqual([value, null]);
        expect(await redis.incrby(key(`c-${encoding}`), 3)).toBe(3);
        expect(await redis.ping()).toBe("PONG");
        expect(await redis.eval("return {1, {2, 'a'}, 'OK'}", [], [])).toEqual([1, [2, "a"], "OK"]);
        expect(await redis.set(key(`u-${encoding}`), "other", { nx: true })).toBeNull();
      });
    }

    it("throws the Redis error of a failing command", async () => {
      await rest("/", ["SET", key("word"), "abc", "EX", 60]);
      await expect(client().incr(key("word"))).rejects.toThrow("ERR value is not an integer or out of range");
    });
  });

  describe("pipeline", () => {
    it("answers one {result} or {error} per command, in order, without stopping at an error", async () => {
      const response = await rest("/pipeline", [
        ["SET", key("pl"), "1", "EX", 60],
        ["INCR", key("word-pl")],
        ["HSET", key("word-pl"), "f", "v"],
        ["INCR", key("pl")],
        ["GET", key("pl")],
      ]);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual([
        { result: "OK" },
        { result: 1 },
        { error: "WRONGTYPE Operation against a key holding the wrong kind of value" },
        { result: 2 },
        { result: b64("2") },
      ]);
      await direct.expire(key("word-pl"), 60);
    });

    it("keeps partial errors apart in the client", async () => {
      await rest("/", ["SET", key("pw"), "abc", "EX", 60]);
      const results = await client().pipeline().set(key("pq"), "x", { ex: 60 }).incr(key("pw")).get(key("pq")).exec({ keepErrors: true });
      expect(results).toEqual([
        { result: "OK", error: undefined },
        { result: undefined, error: "ERR value is not an integer or out of range" },
        { result: "x", error: undefined },
      ]);
      await expect(client().pipeline().incr(key("pw")).exec()).rejects.toThrow("Command 1 [ incr ] failed");
    });
  });

  describe("multi-exec", () => {
    it("keeps transactions whole and apart from concurrent single commands", async () => {
      const counter = key("atomic");
      const [runs, pings] = await Promise.all([
        Promise.all(
          Array.from({ length: 12 }, async () => {
            const response = await rest(
              "/multi-exec",
              Array.from({ length: 5 }, () => ["INCR", counter]),
            );
            return ((await response.json()) as { result: number }[]).map((entry) => entry.result);
          }),
        ),
        // On a shared connection these would land inside someone's MULTI and answer QUEUED.
        Promise.all(Array.from({ length: 30 }, async () => (await rest("/", ["PING"])).json())),
      ]);
      for (const results of runs) expect(results).toEqual(Array.from({ length: 5 }, (_, i) => results[0]! + i));
      expect(runs.map((results) => results[0]).sort((a, b) => a! - b!)).toEqual(Array.from({ length: 12 }, (_, i) => i * 5 + 1));
      expect(new Set(pings.map((ping) => JSON.stringify(ping)))).toEqual(new Set([JSON.stringify({ result: b64("PONG") })]));
      await direct.expire(counter, 60);
    });

    it("applies nothing when a command is refused at queue time", async () => {
      const response = await rest("/multi-exec", [["SET", key("never"), "x"], ["NOSUCHCOMMAND"]]);
      expect(response.status).toBe(400);
      expect((await response.json()).error).toMatch(/^EXECABORT/);
      expect(await direct.exists(key("never"))).toBe(0);
    });

    it("reports run-time errors per command, as Redis does", async () => {
      await rest("/", ["SET", key("mx"), "abc", "EX", 60]);
      const response = await rest("/multi-exec", [
        ["SET", key("m1"), "a", "EX", 60],
        ["INCR", key("mx")],
        ["GET", key("m1")],
      ]);
      expect(await response.json()).toEqual([
        { result: "OK" },
        { error: "ERR value is not an integer or out of range" },
        { result: b64("a") },
      ]);
    });

    it("serves the client's multi()", async () => {
      const results = await client().multi().set(key("mc"), "v", { ex: 60 }).get(key("mc")).incr(key("mcn")).exec();
      expect(results).toEqual(["OK", "v", 1]);
      await direct.expire(key("mcn"), 60);
    });
  });
});
