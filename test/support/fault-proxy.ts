/**
 * A TCP proxy in front of a real service (PostgreSQL, Redis, the S3 gateway) that can
 * inject the faults a network gives: the service stopped (connections reset, new ones
 * dropped at once) or frozen (connections accepted, bytes never delivered — what a
 * SIGSTOPped server or a partition looks like). The service itself is never touched,
 * so tests that share it keep running.
 */
import net from "node:net";

export type FaultMode = "pass" | "down" | "frozen";

export interface FaultProxy {
  /** 127.0.0.1 port clients should connect to. */
  port: number;
  /** `url` with its host and port replaced by the proxy's. */
  urlFor(url: string): string;
  readonly mode: FaultMode;
  /** Resets every open connection and refuses new ones until `pass()`. */
  down(): void;
  /** Keeps connections open but stops delivering bytes either way until `pass()`. */
  freeze(): void;
  /** Back to normal; connections opened while frozen start flowing. */
  pass(): void;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  server: net.Socket;
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  let mode: FaultMode = "pass";
  const pairs = new Set<Pair>();

  const pipe = (pair: Pair) => {
    pair.client.pipe(pair.server);
    pair.server.pipe(pair.client);
  };
  const hold = (pair: Pair) => {
    pair.client.unpipe(pair.server);
    pair.server.unpipe(pair.client);
    pair.client.pause();
    pair.server.pause();
  };

  const listener = net.createServer((client) => {
    if (mode === "down") return void client.destroy();
    const server = net.connect(target);
    const pair: Pair = { client, server };
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      server.destroy();
    };
    client.on("error", drop).on("close", drop);
    server.on("error", drop).on("close", drop);
    if (mode === "frozen") hold(pair);
    else pipe(pair);
  });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const port = (listener.address() as net.AddressInfo).port;

  return {
    port,
    urlFor(url) {
      const parsed = new URL(url);
      parsed.hostname = "127.0.0.1";
      parsed.port = String(port);
      return parsed.toString();
    },
    get mode() {
      return mode;
    },
    down() {
      mode = "down";
      for (const pair of [...pairs]) {
        pair.client.destroy();
        pair.server.destroy();
      }
      pairs.clear();
    },
    freeze() {
      mode = "frozen";
      for (const pair of pairs) hold(pair);
    },
    pass() {
      const wasFrozen = mode === "frozen";
      mode = "pass";
      if (wasFrozen) for (const pair of pairs) pipe(pair);
    },
    async close() {
      for (const pair of [...pairs]) {
        pair.client.destroy();
        pair.server.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };
}
