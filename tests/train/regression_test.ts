import { assertAllClose } from "../_helpers/all_close.ts";
import { tol } from "../_helpers/tolerances.ts";
import { tinyTrainer } from "../../train/tiny_run.ts";

const root = new URL("../..", import.meta.url).pathname;

// fixtures/gen/make_train_losses.ts wrote the losses; fixtures/gen/first_loss.py recomputed
// the first one with numpy from the dumped weights, data, noise and times.
Deno.test("the tiny run's first 10 losses match the fixture, and the first matches numpy", async () => {
  const { losses } = JSON.parse(await Deno.readTextFile(`${root}/fixtures/train_losses.json`));
  const { first_loss } = JSON.parse(
    await Deno.readTextFile(`${root}/fixtures/gen/first_loss_numpy.json`),
  );
  const trainer = await tinyTrainer(root);
  const got: number[] = [];
  for (let i = 0; i < 10; i++) got.push(await trainer.trainStep().item());
  assertAllClose(got, losses, tol.f64Regression, "losses");
  assertAllClose([got[0]], [first_loss], tol.f64IndependentLoss, "first loss vs numpy");
});
