/**
 * A 2-D point cloud as a PNG: a log-scaled density of the points on a square canvas framed to
 * their central 99.8 % (outliers would otherwise shrink the picture to a dot), dark on white.
 */

import { encodePng } from "./png.ts";

export function scatterPng(xy: ArrayLike<number>, n: number, size = 256): Uint8Array {
  const xs = Array.from({ length: n }, (_, i) => xy[2 * i]);
  const ys = Array.from({ length: n }, (_, i) => xy[2 * i + 1]);
  const finite = (v: number[]) => v.filter(Number.isFinite).sort((a, b) => a - b);
  const [fx, fy] = [finite(xs), finite(ys)];
  if (fx.length === 0 || fy.length === 0) throw new RangeError("scatterPng: no finite points");
  const q = (v: number[], p: number) => v[Math.min(v.length - 1, Math.floor(p * v.length))];
  const lo = Math.min(q(fx, 0.001), q(fy, 0.001)), hi = Math.max(q(fx, 0.999), q(fy, 0.999));
  const pad = 0.05 * (hi - lo || 1), a = lo - pad, span = hi - lo + 2 * pad;
  const counts = new Float64Array(size * size);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(((xs[i] - a) / span) * size);
    const r = Math.floor((1 - (ys[i] - a) / span) * size); // y up
    if (c >= 0 && c < size && r >= 0 && r < size) counts[r * size + c]++;
  }
  const top = Math.log1p(Math.max(...counts));
  const pixels = Uint8Array.from(counts, (k) => 255 - Math.round((230 * Math.log1p(k)) / top));
  return encodePng(pixels, size, size, 1);
}
