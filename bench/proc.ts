/**
 * What the kernel counts about processes and the machine (/proc): CPU time of a
 * process tree, peak resident memory, the whole machine's busy time, and its hardware.
 */
import { readdir, readFile } from "node:fs/promises";
import { cpus } from "node:os";

/** Clock ticks per second of /proc's CPU fields (`getconf CLK_TCK`, 100 on Linux). */
export const CLOCK_TICKS_PER_SECOND = 100;

interface Stat {
  pid: number;
  comm: string;
  ppid: number;
  /** utime + stime + cutime + cstime, in ticks. */
  ticks: number;
}

/** Parses a /proc/<pid>/stat line (comm may hold spaces and parentheses: split after the last `)`). */
export function parseStat(line: string): Stat {
  const open = line.indexOf("(");
  const close = line.lastIndexOf(")");
  const fields = line.slice(close + 2).split(" ");
  // fields[0] is field 3 (state); utime..cstime are fields 14..17.
  const at = (field: number) => Number(fields[field - 3]);
  return { pid: Number(line.slice(0, open)), comm: line.slice(open + 1, close), ppid: at(4), ticks: at(14) + at(15) + at(16) + at(17) };
}

async function allStats(): Promise<Stat[]> {
  const stats: Stat[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    // Processes come and go while we read: a vanished one simply is not counted.
    const line = await readFile(`/proc/${name}/stat`, "utf8").catch(() => null);
    if (line) stats.push(parseStat(line));
  }
  return stats;
}

/** CPU ticks used so far by `pid` and every live descendant (plus children they reaped). */
export async function treeCpuTicks(pid: number): Promise<number> {
  const stats = await allStats();
  const tree = new Set([pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const s of stats) {
      if (tree.has(s.pid) || !tree.has(s.ppid)) continue;
      tree.add(s.pid);
      grew = true;
    }
  }
  return stats.filter((s) => tree.has(s.pid)).reduce((sum, s) => sum + s.ticks, 0);
}

/** Descendants of `ancestor` whose command name is `comm` (e.g. the workerd Miniflare spawned). */
export async function descendantsNamed(ancestor: number, comm: string): Promise<number[]> {
  const stats = await allStats();
  const parent = new Map(stats.map((s) => [s.pid, s.ppid]));
  const descends = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === ancestor) return true;
    return false;
  };
  return stats.filter((s) => s.comm === comm && descends(s.pid)).map((s) => s.pid);
}

/** Resident set size now (`VmRSS`) of `pid` and every live descendant, in bytes, and how many processes that is. */
export async function treeRssBytes(pid: number): Promise<{ bytes: number; processes: number }> {
  const stats = await allStats();
  const tree = new Set([pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const s of stats) {
      if (tree.has(s.pid) || !tree.has(s.ppid)) continue;
      tree.add(s.pid);
      grew = true;
    }
  }
  let bytes = 0;
  for (const member of tree) {
    const status = await readFile(`/proc/${member}/status`, "utf8").catch(() => "");
    bytes += Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0) * 1024;
  }
  return { bytes, processes: tree.size };
}

/** Peak resident set size of `pid` so far (`VmHWM`), in bytes. */
export async function peakRssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** Busy ticks of the whole machine so far, summed over all cores (/proc/stat, everything but idle and iowait). */
export async function machineBusyTicks(): Promise<number> {
  const line = (await readFile("/proc/stat", "utf8")).split("\n")[0]!;
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return user! + nice! + system! + irq! + softirq! + steal!;
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memTotalBytes: number;
  kernel: string;
  loadAverage: string;
}

export async function machineInfo(): Promise<MachineInfo> {
  const cpuinfo = await readFile("/proc/cpuinfo", "utf8");
  const meminfo = await readFile("/proc/meminfo", "utf8");
  return {
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    cores: cpus().length,
    memTotalBytes: Number(/^MemTotal:\s+(\d+) kB$/m.exec(meminfo)?.[1] ?? 0) * 1024,
    kernel: (await readFile("/proc/sys/kernel/osrelease", "utf8")).trim(),
    loadAverage: (await readFile("/proc/loadavg", "utf8")).split(" ").slice(0, 3).join(" "),
  };
}
