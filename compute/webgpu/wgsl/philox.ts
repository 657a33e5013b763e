/**
 * WGSL twin of `random/philox.ts`: the same counter layout, rounds and conversions, so uniform
 * bits match the reference exactly and normals agree to float32 rounding.
 */

export const PHILOX_WGSL = /* wgsl */ `
fn mulhilo(a: u32, b: u32) -> vec2<u32> {
  let a_lo = a & 0xffffu; let a_hi = a >> 16u;
  let b_lo = b & 0xffffu; let b_hi = b >> 16u;
  let ll = a_lo * b_lo; let lh = a_lo * b_hi; let hl = a_hi * b_lo; let hh = a_hi * b_hi;
  let mid = (ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
  return vec2<u32>(hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u), a * b);
}

fn philox4x32(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = counter;
  var k = key;
  for (var r = 0u; r < 10u; r++) {
    let p0 = mulhilo(0xd2511f53u, c.x);
    let p1 = mulhilo(0xcd9e8d57u, c.z);
    c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    k = k + vec2<u32>(0x9e3779b9u, 0xbb67ae85u);
  }
  return c;
}

fn uniform_from_bits(w: u32) -> f32 {
  return f32(w >> 8u) * (1.0 / 16777216.0);
}

// −2 log(u1) for u1 = (m + ½)/2^24, m = w0 >> 8. Near u1 = 1 a float32 log(u1) keeps little of
// the tiny result (and m + ½ rounds for m ≥ 2^23): small radii would be off by up to 3%. So
// for u1 ≥ 7/8 it is 4 atanh(s) = −2 log(1 − v), s = v/(2 − v), from the exact v = 1 − u1.
fn neg_two_log_u1(w0: u32) -> f32 {
  let m = w0 >> 8u;
  if (m < 0xe00000u) { return -2.0 * log((f32(m) + 0.5) * (1.0 / 16777216.0)); }
  let v = (f32(0x1000000u - m) - 0.5) * (1.0 / 16777216.0);
  let s = v / (2.0 - v);
  let s2 = s * s; // ≤ 1/225: the series to s⁷ leaves a relative error below 1e-10
  return 4.0 * s * (1.0 + s2 * (1.0 / 3.0 + s2 * (0.2 + s2 * (1.0 / 7.0))));
}

fn box_muller(w0: u32, w1: u32) -> vec2<f32> {
  let theta = 6.283185307179586 * uniform_from_bits(w1);
  let r = sqrt(neg_two_log_u1(w0));
  return vec2<f32>(r * cos(theta), r * sin(theta));
}

// Element i of a draw: counter = (base + i as 64 bits, round, 0).
fn philox_block(key: vec2<u32>, base: vec2<u32>, i: u32, round: u32) -> vec4<u32> {
  let lo = base.x + i;
  let hi = base.y + select(0u, 1u, lo < base.x);
  return philox4x32(vec4<u32>(lo, hi, round, 0u), key);
}

// kind: 0 uniform, 1 normal, 2 rademacher, 3 truncated normal on [-bound, bound]
fn sample_element(kind: u32, key: vec2<u32>, base: vec2<u32>, i: u32, bound: f32) -> f32 {
  let w = philox_block(key, base, i, 0u);
  if (kind == 0u) { return uniform_from_bits(w.x); }
  if (kind == 1u) { return box_muller(w.x, w.y).x; }
  if (kind == 2u) { return select(-1.0, 1.0, (w.x >> 31u) == 1u); }
  var last = 0.0;
  for (var round = 0u; round < 16u; round++) {
    var v = w;
    if (round > 0u) { v = philox_block(key, base, i, round); }
    let a = box_muller(v.x, v.y);
    let b = box_muller(v.z, v.w);
    let zs = array<f32, 4>(a.x, a.y, b.x, b.y);
    for (var j = 0u; j < 4u; j++) {
      if (abs(zs[j]) <= bound) { return zs[j]; }
      last = zs[j];
    }
  }
  return clamp(last, -bound, bound);
}
`;
