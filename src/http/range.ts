/** `Range: bytes=…` for one range (RFC 9110 §14); several ranges are served whole. */
export type RangeRequest = { kind: "none" } | { kind: "range"; offset: number; length: number } | { kind: "unsatisfiable" };

export function parseRange(header: string | undefined, size: number): RangeRequest {
  const match = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!match) return { kind: "none" };
  const [, first, last] = match as unknown as [string, string, string];
  if (first === "" && last === "") return { kind: "none" };
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: "unsatisfiable" };
    const length = Math.min(suffix, size);
    return { kind: "range", offset: size - length, length };
  }
  const offset = Number(first);
  if (offset >= size) return { kind: "unsatisfiable" };
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (end < offset) return { kind: "none" };
  return { kind: "range", offset, length: end - offset + 1 };
}
