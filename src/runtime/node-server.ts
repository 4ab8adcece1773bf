/**
 * Serving the app from Node (origin and embedded runtimes): listen with limits that keep
 * slow and greedy clients from holding connections, and close in order on
 * SIGINT/SIGTERM — stop accepting, finish in-flight requests, release ports.
 */
import type { Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";
import type { TLSSocket, TlsOptions } from "node:tls";
import { serve } from "@hono/node-server";
import type { Hono } from "hono";
import { readInteger, type ConfigSource } from "../core/config.js";
import { describeHandshake } from "./tls.js";

export interface RunningServer {
  port: number;
  /** Stops accepting, lets requests in flight finish (at most the grace period), resolves once every connection is gone. */
  close(): Promise<void>;
  /** Ends every connection now, in flight or not (a second stop signal: the operator will not wait). */
  cutOff(): void;
}

/** What one client may hold. No whole-request timeout: a multi-GB upload may take hours while it progresses. */
export interface ServerLimits {
  /** The request line and headers must arrive within this (slowloris). */
  headersTimeoutMs: number;
  /** A socket with no bytes either way for this long is closed; data resets it. */
  idleTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** Open connections one remote address may hold; more are closed at once. */
  maxConnectionsPerIp: number;
  /** At shutdown, requests still running after this are cut off. */
  shutdownGraceMs: number;
}

export function loadServerLimits(source: ConfigSource): ServerLimits {
  return {
    headersTimeoutMs: readInteger(source, "PIER_HEADERS_TIMEOUT_MS", 20_000, 1),
    idleTimeoutMs: readInteger(source, "PIER_IDLE_TIMEOUT_MS", 60_000, 1),
    keepAliveTimeoutMs: readInteger(source, "PIER_KEEPALIVE_TIMEOUT_MS", 5_000, 1),
    maxConnectionsPerIp: readInteger(source, "PIER_MAX_CONNECTIONS_PER_IP", 256, 1),
    shutdownGraceMs: readInteger(source, "PIER_SHUTDOWN_GRACE_MS", 10_000),
  };
}

/** Closes a new socket when its address already holds `max` open ones. */
function capConnectionsPerAddress(server: Server, max: number): void {
  const open = new Map<string, number>();
  server.on("connection", (socket: Socket) => {
    const address = socket.remoteAddress ?? "";
    const count = open.get(address) ?? 0;
    if (count >= max) {
      socket.destroy();
      return;
    }
    open.set(address, count + 1);
    socket.once("close", () => {
      const left = open.get(address)! - 1;
      if (left === 0) open.delete(address);
      else open.set(address, left);
    });
  });
}

/** With `tls` (from tlsServerOptions) it serves HTTPS; PIER_DEBUG=true logs each handshake's protocol. */
export function listen(
  app: Hono,
  options: { hostname: string; port: number; limits?: ServerLimits; tls?: TlsOptions | null },
): Promise<RunningServer> {
  const limits = options.limits ?? loadServerLimits({});
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    const serverOptions = {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: 0,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // Node checks the header deadline only this often (30 s by default).
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
      ...options.tls,
    };
    const https = options.tls ? { createServer: createHttpsServer } : {};
    const server = serve({ fetch: app.fetch, hostname: options.hostname, port: options.port, serverOptions, ...https }, (info) => {
      server.off("error", onError);
      resolve({
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            // Idle keep-alive sockets would hold close() open forever; busy ones get the grace period.
            server.closeIdleConnections();
            setTimeout(() => server.closeAllConnections(), limits.shutdownGraceMs).unref();
          }),
        cutOff: () => server.closeAllConnections(),
      });
    }) as Server;
    // Without a 'timeout' listener Node destroys a socket idle this long.
    server.setTimeout(limits.idleTimeoutMs);
    capConnectionsPerAddress(server, limits.maxConnectionsPerIp);
    if (options.tls && process.env.PIER_DEBUG === "true") {
      server.on("secureConnection", (socket: TLSSocket) => console.log(describeHandshake(socket)));
    }
    server.once("error", onError);
  });
}

/**
 * A repeat this soon after the first signal is a copy, not the operator insisting: a
 * terminal's Ctrl-C reaches the whole process group, and npm then forwards it again.
 */
const REPEAT_IS_COPY_MS = 1_000;

/**
 * Runs `shutdown` on the first SIGINT/SIGTERM, then exits. A signal again (a second Ctrl-C)
 * calls `hurry` instead of killing the process, so the orderly end (flushes, closed database,
 * released lock) still runs; copies arriving within a second of the first are ignored.
 */
export function onShutdownSignal(shutdown: () => Promise<void>, hurry: () => void = () => {}): void {
  let firstAt: number | null = null;
  const handler = (signal: NodeJS.Signals) => {
    if (firstAt !== null) {
      if (Date.now() - firstAt >= REPEAT_IS_COPY_MS) hurry();
      return;
    }
    firstAt = Date.now();
    shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`shutdown after ${signal} failed:`, error);
        process.exit(1);
      },
    );
  };
  // `on`, not `once`: with no listener left, a repeated signal would kill the process mid-shutdown.
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
}
