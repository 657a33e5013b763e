/**
 * Training steps per timed run of the step cases. A run ends on the last step's loss readback, as
 * `train` reads the loss only every --log-every steps, and times are reported per step. The U-Net's
 * step is long enough that one readback per step is lost in it. The peers use the same counts
 * (tfjs_peer.ts imports this table; torch_peer.py repeats it, and peers_test.ts checks the two agree).
 */
export const STEPS_PER_READ: Record<string, number> = {
  "unet28.train_step": 1,
  "mlp.train_step.b1024": 8,
};
