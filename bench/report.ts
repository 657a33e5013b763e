/**
 * The suite's table: one row per case and backend, then our/peer speed ratios computed pair by
 * pair (peer time over our time: above 1 means ours is faster).
 */

import type { CaseResult } from "./measure.ts";

const OURS = ["webgpu", "reference"];

export interface RatioRow {
  name: string;
  ours: string;
  peer: string;
  /** peer ms / our ms */
  speed_ratio: number;
}

export function ratioRows(results: CaseResult[]): RatioRow[] {
  const rows: RatioRow[] = [];
  // the reference backend is compared with the peers only when WebGPU did not run
  const ours = results.some((r) => r.backend === "webgpu") ? ["webgpu"] : OURS;
  for (const r of results) {
    if (!ours.includes(r.backend)) continue;
    for (const p of results) {
      if (p.name !== r.name || p.backend === r.backend || OURS.includes(p.backend)) continue;
      rows.push({
        name: r.name,
        ours: r.backend,
        peer: p.backend,
        speed_ratio: p.ms_median / r.ms_median,
      });
    }
    const ref = results.find((o) => o.name === r.name && o.backend === "reference");
    if (r.backend === "webgpu" && ref) {
      rows.push({
        name: r.name,
        ours: "webgpu",
        peer: "reference",
        speed_ratio: ref.ms_median / r.ms_median,
      });
    }
  }
  return rows;
}

export function printTable(results: CaseResult[]): void {
  console.log(
    "| case | backend | ms median | min–max | GFLOP/s |\n|---|---|---|---|---|",
  );
  const byName = [...new Set(results.map((r) => r.name))];
  for (const name of byName) {
    for (const r of results.filter((o) => o.name === name)) {
      const rate = r.gflops === null
        ? "—"
        : `${r.gflops.toFixed(2)}${r.note ? ` (${r.note})` : ""}`;
      console.log(
        `| ${name} | ${r.backend} | ${r.ms_median.toFixed(1)} | ${r.ms_min.toFixed(1)}–${
          r.ms_max.toFixed(1)
        } | ${rate} |`,
      );
    }
  }
  const ratios = ratioRows(results);
  if (ratios.length === 0) return;
  console.log("\n| case | ours | peer | speed ours/peer |\n|---|---|---|---|");
  for (const q of ratios) {
    console.log(`| ${q.name} | ${q.ours} | ${q.peer} | ${q.speed_ratio.toFixed(2)}× |`);
  }
}
