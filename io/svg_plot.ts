/** A minimal SVG line plot (loss curves): axes with min/max labels, one polyline. */

export function lineSvg(
  xs: number[],
  ys: number[],
  title: string,
  xLabel: string,
  yLabel: string,
): string {
  const W = 640, H = 360, L = 70, R = 20, T = 40, B = 50;
  const finite = ys.map((y, i) => [xs[i], y]).filter(([, y]) => Number.isFinite(y));
  const [x0, x1] = [Math.min(...finite.map((p) => p[0])), Math.max(...finite.map((p) => p[0]))];
  const [y0, y1] = [Math.min(...finite.map((p) => p[1])), Math.max(...finite.map((p) => p[1]))];
  const sx = (x: number) => L + ((x - x0) / (x1 - x0 || 1)) * (W - L - R);
  const sy = (y: number) => H - B - ((y - y0) / (y1 - y0 || 1)) * (H - T - B);
  const points = finite.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ");
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const fmt = (
    v: number,
  ) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0)
    ? v.toExponential(2)
    : v.toPrecision(4));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">
<rect width="${W}" height="${H}" fill="white"/>
<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>
<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/>
<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>
<text x="${L}" y="${H - B + 16}" text-anchor="middle">${fmt(x0)}</text>
<text x="${W - R}" y="${H - B + 16}" text-anchor="middle">${fmt(x1)}</text>
<text x="${L - 6}" y="${H - B}" text-anchor="end">${fmt(y0)}</text>
<text x="${L - 6}" y="${T + 4}" text-anchor="end">${fmt(y1)}</text>
<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">${esc(xLabel)}</text>
<text x="16" y="${H / 2}" text-anchor="middle" transform="rotate(-90 16 ${H / 2})">${
    esc(yLabel)
  }</text>
<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="${points}"/>
</svg>
`;
}
