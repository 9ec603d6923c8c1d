/** Byte ranges delivered of a file: inclusive `[start, end]` pairs, sorted, merged (touching ones joined). */
export type Coverage = [number, number][];

/** `c` with `[start, end]` added. */
export function mergeRange(c: Coverage, [start, end]: [number, number]): Coverage {
  const out: Coverage = [];
  let s = start;
  let e = end;
  for (const [a, b] of c) {
    if (b + 1 < s || a > e + 1) out.push([a, b]);
    else {
      s = Math.min(s, a);
      e = Math.max(e, b);
    }
  }
  out.push([s, e]);
  return out.sort((x, y) => x[0] - y[0]);
}

/** Whether `c` covers every byte of a file of `size` bytes. */
export const covers = (c: Coverage, size: number): boolean => c.length === 1 && c[0][0] === 0 && c[0][1] >= size - 1;
