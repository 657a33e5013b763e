/**
 * The parameter names and shapes of score_sde's NCSN++ for a configuration, in the order of the
 * original's state dict: `NCSNpp.__init__` appends its modules to `all_modules` in this order,
 * and each module registers its own parameters (`Conv_0`, `Dense_0`, `GroupNorm_1`, …) in the
 * order written here. Modules without parameters (a resampling without convolution) still take
 * an index. The frozen Fourier projection `all_modules.0.W` is listed; the `sigmas` buffer is not.
 */

import type { NcsnppConfig } from "./ncsnpp.ts";

export function ncsnppShapes(c: NcsnppConfig): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  let m = 0;
  const at = () => `all_modules.${m++}`;
  const conv = (k: string, ci: number, co: number, size: number) => {
    shapes.set(`${k}.weight`, [co, ci, size, size]);
    shapes.set(`${k}.bias`, [co]);
  };
  const norm = (k: string, ch: number) => {
    shapes.set(`${k}.weight`, [ch]);
    shapes.set(`${k}.bias`, [ch]);
  };
  const dense = (k: string, i: number, o: number) => {
    shapes.set(`${k}.weight`, [o, i]);
    shapes.set(`${k}.bias`, [o]);
  };
  const nf = c.nf, temb = 4 * nf;
  if (c.embeddingType === "fourier") shapes.set(`${at()}.W`, [nf]);
  if (c.conditional) {
    dense(at(), c.embeddingType === "fourier" ? 2 * nf : nf, temb);
    dense(at(), temb, temb);
  }
  const res = (ci: number, co: number, resample: boolean) => {
    const k = at();
    norm(`${k}.GroupNorm_0`, ci);
    conv(`${k}.Conv_0`, ci, co, 3);
    if (c.conditional) dense(`${k}.Dense_0`, temb, co);
    norm(`${k}.GroupNorm_1`, co);
    conv(`${k}.Conv_1`, co, co, 3);
    if (c.resblockType === "biggan") {
      if (ci !== co || resample) conv(`${k}.Conv_2`, ci, co, 1);
    } else if (ci !== co) {
      shapes.set(`${k}.NIN_0.W`, [ci, co]);
      shapes.set(`${k}.NIN_0.b`, [co]);
    }
  };
  const attn = (ch: number) => {
    const k = at();
    norm(`${k}.GroupNorm_0`, ch);
    for (let i = 0; i < 4; i++) {
      shapes.set(`${k}.NIN_${i}.W`, [ch, ch]);
      shapes.set(`${k}.NIN_${i}.b`, [ch]);
    }
  };
  /** layerspp's Upsample or Downsample: FIR keeps its convolution as `Conv2d_0` */
  const resampler = (ci: number, co: number, withConv: boolean) => {
    const k = at();
    if (withConv) conv(c.fir ? `${k}.Conv2d_0` : `${k}.Conv_0`, ci, co, 3);
  };
  /** the down- or upsampling step between two resolutions */
  const step = (ch: number) => {
    if (c.resblockType === "ddpm") resampler(ch, ch, c.resampWithConv);
    else res(ch, ch, true);
  };
  const levels = c.chMult.length;
  conv(at(), c.channels, nf, 3);
  const hs = [nf];
  let ch = nf, inputPyramid = c.channels;
  for (let i = 0; i < levels; i++) {
    for (let b = 0; b < c.numResBlocks; b++) {
      res(ch, nf * c.chMult[i], false);
      ch = nf * c.chMult[i];
      if (c.attnResolutions.includes(c.resolution >> i)) attn(ch);
      hs.push(ch);
    }
    if (i !== levels - 1) {
      step(ch);
      if (c.progressiveInput === "input_skip") {
        conv(`${at()}.Conv_0`, inputPyramid, ch, 1); // Combine
        if (c.progressiveCombine === "cat") ch *= 2;
      } else if (c.progressiveInput === "residual") {
        resampler(inputPyramid, ch, true);
        inputPyramid = ch;
      }
      hs.push(ch);
    }
  }
  res(ch, ch, false);
  attn(ch);
  res(ch, ch, false);
  let pyramid = 0;
  for (let i = levels - 1; i >= 0; i--) {
    for (let b = 0; b < c.numResBlocks + 1; b++) {
      res(ch + hs.pop()!, nf * c.chMult[i], false);
      ch = nf * c.chMult[i];
    }
    if (c.attnResolutions.includes(c.resolution >> i)) attn(ch);
    if (c.progressive === "output_skip") {
      norm(at(), ch);
      conv(at(), ch, c.channels, 3);
    } else if (c.progressive === "residual") {
      if (i === levels - 1) {
        norm(at(), ch);
        conv(at(), ch, ch, 3);
      } else resampler(pyramid, ch, true);
      pyramid = ch;
    }
    if (i !== 0) step(ch);
  }
  if (c.progressive !== "output_skip") {
    norm(at(), ch);
    conv(at(), ch, c.channels, 3);
  }
  return shapes;
}
