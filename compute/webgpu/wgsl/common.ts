/**
 * Shared WGSL prelude: every kernel reads its shapes, strides and scalars from one 256-byte
 * slot of a uniform arena (bound with a dynamic offset), so one pipeline serves every shape.
 */

/** Threads per workgroup of the 1-D kernels. */
export const WORKGROUP = 64;

/** u32 slots in one kernel's parameter block (256 bytes: the dynamic-offset alignment). */
export const PARAM_SLOTS = 64;

export const PRELUDE = /* wgsl */ `
struct Params { v: array<vec4<u32>, 16> }
@group(0) @binding(0) var<uniform> params: Params;
fn P(i: u32) -> u32 { return params.v[i / 4u][i % 4u]; }
fn Pf(i: u32) -> f32 { return bitcast<f32>(P(i)); }
// Flat thread index of a 1-D launch spread over x and y (x is capped at 65535 groups).
fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * ${WORKGROUP}u; }
`;

/** Entry point signature of the 1-D kernels. */
export const MAIN_1D = /* wgsl */ `
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>)`;
