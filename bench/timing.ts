/** Repeated timing with warm-up: median, min and max milliseconds of a function that syncs itself. */

export interface Timing {
  ms_median: number;
  ms_min: number;
  ms_max: number;
}

export async function time(run: () => Promise<void>, reps: number, warmup = 1): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await run();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await run();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { ms_median: ms[Math.floor(ms.length / 2)], ms_min: ms[0], ms_max: ms[ms.length - 1] };
}
