/** The foundation spike's figures as a table (see spike.ts). */

import type { runSpike } from "./spike.ts";

export function printSpike(spike: Awaited<ReturnType<typeof runSpike>>): void {
  console.log("\ntraining (MLP 3×128 SiLU, two blobs; dsm: ε-prediction, flow: velocity):");
  console.log(
    "backend     objective  high-order  batch  ms/step  dispatches/step  pipelines  live@10      live@end     loss first→last",
  );
  for (const t of spike.training) {
    console.log(
      `${t.backend.padEnd(11)} ${t.objective.padEnd(10)} ${String(t.highOrder).padEnd(11)} ${
        String(t.batch).padEnd(6)
      } ${t.msPerStep.toFixed(1).padStart(7)}  ${t.dispatchesPerStep.toFixed(0).padStart(15)}  ${
        String(t.pipelinesCompiled).padStart(9)
      }  ${String(t.liveBytesAtStep10).padEnd(11)}  ${String(t.liveBytesAtEnd).padEnd(11)}  ${
        t.firstLoss.toFixed(3)
      }→${t.lastLoss.toFixed(3)}`,
    );
  }
  console.log(
    "\nPF-ODE log-likelihood (exact mixture score, exact divergence, DP5 rtol=atol=1e-5):",
  );
  for (const l of spike.likelihood) {
    console.log(
      `${l.backend.padEnd(11)} ${l.dtype}  ${l.points} points  ${
        l.ms.toFixed(0)
      } ms  NFE ${l.nfe}  steps ${l.steps}  ` +
        `mean |logp − closed form| ${l.meanAbsErrorVsClosedForm.toExponential(2)} nats`,
    );
  }
  for (const e of spike.float32Error) {
    console.log(
      `float32 vs float64 (${e.backend}): max |Δ log p| = ${
        e.maxAbsLogpErrorVsFloat64.toExponential(2)
      } nats`,
    );
  }
}
