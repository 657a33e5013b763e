/**
 * CPU time the process spends while idle for one second after a burst of sgemm calls: what
 * OpenBLAS's spinning worker threads cost (compute/cpu/blas.ts sets OPENBLAS_THREAD_TIMEOUT=4
 * unless it is set already).
 *
 *   deno run -A bench/blas_idle.ts                                # the backend's setting
 *   OPENBLAS_THREAD_TIMEOUT=28 deno run -A bench/blas_idle.ts    # OpenBLAS's own default
 */

import { loadBlas } from "../compute/cpu/blas.ts";

const loaded = loadBlas();
if ("error" in loaded) {
  console.error(loaded.error);
  Deno.exit(1);
}
const n = 512, a = new Float32Array(n * n).fill(1), c = new Float32Array(n * n);
/** user + system CPU milliseconds of this process, from /proc (Linux; 10 ms ticks) */
const cpuMs = () => {
  const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
};
for (let i = 0; i < 50; i++) loaded.blas.sgemm(false, false, n, n, n, 1, a, n, a, n, 0, c, n);
const before = cpuMs();
await new Promise((r) => setTimeout(r, 1000));
console.log(
  `OPENBLAS_THREAD_TIMEOUT=${
    Deno.env.get("OPENBLAS_THREAD_TIMEOUT")
  }, ${loaded.blas.threads()} threads: ${
    cpuMs() - before
  } ms of CPU during 1 s idle after 50 sgemm calls`,
);
