/**
 * Serving one port from several Node processes (`PIER_WORKERS`): node:cluster's primary
 * holds the listening socket and hands connections to its workers round-robin (Node 20
 * has no SO_REUSEPORT listening; `reusePort` arrived in Node 22.12/23.1). The primary
 * serves no requests: it forks the workers, relays their questions to each other over
 * IPC (the group's metrics, "forget this repository"), prints the start line once every
 * worker listens, restarts a worker that dies, and on SIGINT/SIGTERM passes the signal
 * on, waits for every worker to drain and exit, then releases its own resources.
 */
import cluster, { type Worker } from "node:cluster";
import { onShutdownSignal } from "./node-server.js";
import { StartupError } from "./startup.js";

type Message =
  | { pier: "setup?" }
  | { pier: "setup"; value: unknown }
  | { pier: "ready"; port: number }
  | { pier: "gather"; id: number; topic: string; payload: unknown; timeoutMs: number }
  | { pier: "ask"; id: number; topic: string; payload: unknown }
  | { pier: "answer"; id: number; value: unknown }
  | { pier: "gathered"; id: number; values: unknown[] };

function isMessage(message: unknown): message is Message {
  return typeof message === "object" && message !== null && typeof (message as { pier?: unknown }).pier === "string";
}

/** A worker's view of its group. */
export interface GroupMember {
  /** 1…N, kept across restarts: worker 1 runs the job timer. */
  index: number;
  /** What the primary hands every worker at start (e.g. the instance's signing key). */
  setup(): Promise<unknown>;
  /** Asks every worker of the group, this one included; resolves with the answers that came within `timeoutMs` (and the primary's own, if it answers `topic`). */
  gather(topic: string, payload: unknown, timeoutMs: number): Promise<unknown[]>;
  /** How this worker answers `topic` when a sibling gathers it. */
  answer(topic: string, handler: (payload: unknown) => unknown): void;
  /** Tells the primary this worker listens. */
  ready(port: number): void;
}

/** The group this process serves in, or null when it serves alone (not a cluster worker). */
export function joinGroup(): GroupMember | null {
  if (!cluster.isWorker) return null;
  const send = (message: Message) => process.send!(message);
  const handlers = new Map<string, (payload: unknown) => unknown>();
  const waiting = new Map<number, (values: unknown[]) => void>();
  let setup: Promise<unknown> | null = null;
  let resolveSetup: (value: unknown) => void = () => {};
  let nextId = 1;
  process.on("message", (message: unknown) => {
    if (!isMessage(message)) return;
    if (message.pier === "setup") resolveSetup(message.value);
    else if (message.pier === "gathered") {
      waiting.get(message.id)?.(message.values);
      waiting.delete(message.id);
    } else if (message.pier === "ask") {
      const handler = handlers.get(message.topic);
      Promise.resolve()
        .then(() => handler?.(message.payload) ?? null)
        .then(
          (value) => send({ pier: "answer", id: message.id, value }),
          () => send({ pier: "answer", id: message.id, value: null }),
        );
    }
  });
  // The primary is gone (killed without a chance to stop us): stop as if told to.
  process.once("disconnect", () => process.kill(process.pid, "SIGTERM"));
  return {
    index: Number(process.env.PIER_WORKER_INDEX ?? cluster.worker!.id),
    setup() {
      setup ??= new Promise((resolve) => {
        resolveSetup = resolve;
        send({ pier: "setup?" });
      });
      return setup;
    },
    gather(topic, payload, timeoutMs) {
      const id = nextId++;
      return new Promise((resolve) => {
        waiting.set(id, resolve);
        send({ pier: "gather", id, topic, payload, timeoutMs });
      });
    },
    answer(topic, handler) {
      handlers.set(topic, handler);
    },
    ready(port) {
      send({ pier: "ready", port });
    },
  };
}

export interface PrimaryOptions {
  workers: number;
  /** Handed to each worker that asks (GroupMember.setup). */
  setup: unknown;
  /** The primary's own answer to a gathered topic (e.g. its process metrics); undefined: none. */
  ownAnswer?: (topic: string, payload: unknown) => unknown;
  log: (line: string) => void;
  /** Runs after every worker exited at shutdown. */
  release: () => Promise<void>;
}

/** A worker that dies sooner than this after its start is failing to start: the group stops rather than loop. */
const MIN_LIFETIME_MS = 5_000;

/**
 * Forks the workers and resolves once each of them listens, with the port and their pids.
 * Rejects (after stopping the others) when a worker exits before listening: its own
 * output said why.
 */
export function startPrimary(options: PrimaryOptions): Promise<{ port: number; pids: number[] }> {
  let nextAsk = 1;
  let stopping = false;
  const live = new Map<number, Worker>();
  const startedAt = new Map<number, number>();
  const ports = new Map<number, number>();
  /** Each index's current worker's exit code (0: it stopped cleanly). */
  const exits = new Map<number, Promise<number>>();

  return new Promise((resolve, reject) => {
    const failStart = async (index: number, code: number | null) => {
      if (stopping) return;
      stopping = true;
      for (const worker of live.values()) worker.process.kill("SIGTERM");
      await Promise.all(exits.values());
      await options.release();
      reject(new StartupError(`worker ${index} exited (${code}) before listening; the lines above say why`));
    };

    const gather = (from: Worker, message: Extract<Message, { pier: "gather" }>) => {
      const values: unknown[] = [];
      const own = options.ownAnswer?.(message.topic, message.payload);
      if (own !== undefined) values.push(own);
      const pending = new Map<number, (value: unknown) => void>();
      const asked = [...live.values()].filter((worker) => worker.isConnected());
      let left = asked.length;
      const finish = () => {
        clearTimeout(timer);
        for (const [ask] of pending) answers.delete(ask);
        if (from.isConnected()) from.send({ pier: "gathered", id: message.id, values } satisfies Message);
      };
      const timer = setTimeout(finish, message.timeoutMs);
      if (left === 0) return finish();
      for (const worker of asked) {
        const ask = nextAsk++;
        const onAnswer = (value: unknown) => {
          pending.delete(ask);
          answers.delete(ask);
          if (value !== null) values.push(value);
          if (--left === 0) finish();
        };
        pending.set(ask, onAnswer);
        answers.set(ask, onAnswer);
        worker.send({ pier: "ask", id: ask, topic: message.topic, payload: message.payload } satisfies Message);
      }
    };
    const answers = new Map<number, (value: unknown) => void>();

    const fork = (index: number) => {
      const worker = cluster.fork({ PIER_WORKER_INDEX: String(index) });
      live.set(index, worker);
      startedAt.set(index, Date.now());
      exits.set(
        index,
        new Promise<number>((done) =>
          worker.once("exit", (code, signal) => {
            live.delete(index);
            const wasReady = ports.has(index);
            ports.delete(index);
            done(code ?? 1);
            if (stopping) return;
            if (!wasReady) return void failStart(index, code);
            if (Date.now() - startedAt.get(index)! < MIN_LIFETIME_MS) {
              options.log(`worker ${index} (pid ${worker.process.pid}) exited (${code ?? signal}) right after starting; stopping`);
              process.kill(process.pid, "SIGTERM");
              return;
            }
            options.log(`worker ${index} (pid ${worker.process.pid}) exited (${code ?? signal}); starting another`);
            fork(index);
          }),
        ),
      );
      worker.on("message", (message: unknown) => {
        if (!isMessage(message)) return;
        if (message.pier === "setup?") worker.send({ pier: "setup", value: options.setup } satisfies Message);
        else if (message.pier === "gather") gather(worker, message);
        else if (message.pier === "answer") answers.get(message.id)?.(message.value);
        else if (message.pier === "ready") {
          ports.set(index, message.port);
          if (ports.size === options.workers && !announced) {
            announced = true;
            resolve({ port: message.port, pids: [...live.values()].map((w) => w.process.pid!) });
          }
        }
      });
    };
    let announced = false;

    onShutdownSignal(
      async () => {
        stopping = true;
        for (const worker of live.values()) worker.process.kill("SIGTERM");
        const codes = await Promise.all(exits.values());
        await options.release();
        if (codes.some((code) => code !== 0)) throw new Error(`a worker did not stop cleanly (exit codes ${codes.join(", ")})`);
      },
      () => {
        for (const worker of live.values()) worker.process.kill("SIGTERM");
      },
    );
    for (let index = 1; index <= options.workers; index++) fork(index);
  });
}
