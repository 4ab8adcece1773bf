/** Running an entry point as a child process and reading what it prints. */
import { spawn, type ChildProcess } from "node:child_process";

export interface Spawned {
  child: ChildProcess;
  /** Everything printed so far, stdout and stderr interleaved. */
  output(): string;
  /** Resolves with the first match of `pattern` in the output; rejects on exit or timeout. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/** Runs a TypeScript entry under tsx, or with `plain` a JavaScript file on bare Node (with `nodeFlags`), in `cwd` if given. */
export function spawnEntry(
  entry: string,
  env: Record<string, string>,
  args: readonly string[] = [],
  options: { plain?: boolean; nodeFlags?: readonly string[]; cwd?: string } = {},
): Spawned {
  const loader = options.plain ? [] : ["--import", "tsx"];
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), ...loader, entry, ...args], {
    env: { ...process.env, ...env },
    cwd: options.cwd,
    // stdin stays open: entries that serve until their parent goes away watch it close.
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    listeners.forEach((l) => l());
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

  return {
    child,
    output: () => output,
    exited,
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = output.match(pattern);
          if (match) {
            cleanup();
            resolve(match);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern}; output:\n${output}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        exited.then((code) => {
          if (listeners.has(check)) {
            cleanup();
            reject(new Error(`exited with ${code} before ${pattern}; output:\n${output}`));
          }
        });
        check();
      });
    },
  };
}
