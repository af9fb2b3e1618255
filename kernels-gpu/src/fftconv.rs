//! FFT convolution on tensor cores: one generic body per kernel, parameterised by the FFT size
//! (`LOG2_N`), the data type and whether intermediates keep split precision (`SPLIT`).
//!
//! # The transform
//!
//! A block holds `slots` sequences of `N` complex values in shared memory as f16 planes (real,
//! imaginary; with `SPLIT` also the low parts `x − f16(x)`). `N = r₀·16^s` is transformed
//! in place by decimation in frequency: stage `st` applies an `r`-point DFT along the index
//! digit of stride `M`, then multiplies element `(f, c)` of each block of `S = r·M` by the
//! twiddle `W_S^{c·f}`. Each stage is a matrix product on tensor cores: a warp takes a *tile*
//! of 16 DFT inputs × 8 columns, loads it with `ldmatrix`, multiplies it by the 16×16 DFT
//! matrix (`I_{16/r} ⊗ F_r` for the small first radix) with four real `mma.sync` products
//! (twelve with `SPLIT`: data and matrix both split), applies the epilogue (twiddles, or the
//! kernel spectrum after the last stage) in f32, and stores the tile back with `stmatrix`.
//! Tiles of a stage are independent; stages are separated by barriers. The spectrum is left in
//! digit-reversed order, which the prepared kernel spectrum shares, and the inverse runs the
//! stages backwards with conjugate matrices and twiddles, giving natural order again. Sizes
//! above 16K add an outer radix-2 step where data enter and leave (see
//! `flashfftconv_abi::fftconv`).
//!
//! Every stage also scales by a power of two (`1/4` for radix 16, folded into its DFT matrix)
//! so values keep their size; inputs are normalised per pair by a power of two from their
//! largest magnitude. All these scales are exact and undone in f32 on output.
//!
//! Shared memory is addressed in 16-byte chunks of 8 f16, swizzled by
//! [`swizzle`] so that the 8 rows of every `ldmatrix`/`stmatrix` matrix fall in distinct banks
//! for every stage stride.

use crate::device::{self, block_x, lane, sync_threads, thread_x};
use crate::element::Element;
use core::f32::consts::{FRAC_PI_2, PI};
use core::intrinsics::fmaf32;
use flashfftconv_abi::fftconv::{
    backward_dk_on_chip, backward_scratch_offset, backward_shared_bytes, backward_spectrum_entry_bytes,
    backward_spectrum_on_chip, backward_zero_half_skip, cluster_blocks, forward_shared_bytes, halves, inner_log2,
    pairs_per_block, planes, shared_bytes, spectrum_index, stash_bytes, zero_half_skip, FftConvParams, FLAG_IN_GATE,
    FLAG_OUT_GATE, FLAG_VECTOR, REDUCE_BYTES, THREADS,
};

pub mod long;

const WARPS: u32 = THREADS / 32;

/// Tiles a warp works on at once in a stage (see [`run_stage`]); every block has a multiple of
/// `TILES_AT_ONCE · WARPS` tiles per stage (`slots · N / 128 ≥ 16`, so 1 or 2). Measured on the
/// H100: 2 left the forward unchanged and slowed the backward by up to 40 % (registers: one
/// block per SM fewer), so 1.
const TILES_AT_ONCE: usize = 1;

/// Physical chunk of logical chunk `q`: the low three bits are XORed with the XOR-fold of the
/// higher bits in groups of three, so any 8 chunks at a power-of-two stride differ in their
/// low three bits (the 8 bank groups of 16 bytes).
#[inline(always)]
fn swizzle(q: u32) -> u32 {
    let x = q >> 3;
    q ^ ((x ^ (x >> 3) ^ (x >> 6) ^ (x >> 9)) & 7)
}

/// The block's shared memory: `planes` f16 planes of `slots · N'` values (`N'` the on-chip
/// size), the stash of the outer step (two f16 planes of `N'`, if any), then a small reduction
/// area.
#[derive(Clone, Copy)]
struct Smem {
    base: u32,
    plane_bytes: u32,
    stash: u32,
    reduce: u32,
}

impl Smem {
    #[inline(always)]
    fn new(log2_n: u32, split: bool) -> Self {
        Self::with_stash(log2_n, split, true)
    }

    /// As [`Smem::new`]; without `stash` (the forward, see `cluster_blocks`) the reduction area
    /// follows the planes directly.
    #[inline(always)]
    fn with_stash(log2_n: u32, split: bool, stash: bool) -> Self {
        let base = device::dynamic_shared_base();
        let plane_bytes = pairs_per_block(log2_n) << (inner_log2(log2_n) + 1);
        let stash_at = base + plane_bytes * planes(split);
        Smem { base, plane_bytes, stash: stash_at, reduce: stash_at + if stash { stash_bytes(log2_n) } else { 0 } }
    }

    /// Address of stash chunk `pos / 8` of `plane` (0 real, 1 imaginary; split: 2 and 3 their
    /// low parts, each plane half as long), unswizzled.
    #[inline(always)]
    fn stash_chunk(&self, log2_inner: u32, plane: u32, pos: u32, split: bool) -> u32 {
        self.stash + (plane << (log2_inner + if split { 0 } else { 1 })) + 2 * pos
    }

    /// The backward's areas after the reduction area (`backward_shared_bytes`): the slots' `z`
    /// spectra ([`backward_spectrum_on_chip`]), then the slots' `dk` accumulators
    /// ([`backward_dk_on_chip`]); `(z, dk)` base addresses.
    #[inline(always)]
    fn backward_areas(&self, log2_n: u32, split: bool) -> (u32, u32) {
        let z = self.reduce + REDUCE_BYTES;
        let entries = pairs_per_block(log2_n) << inner_log2(log2_n);
        let z_bytes =
            if backward_spectrum_on_chip(log2_n, split) { entries * backward_spectrum_entry_bytes(split) } else { 0 };
        (z, z + z_bytes)
    }
}

/// Address in an area of complex f16 entries (4 bytes) of this lane's four entries of `tile` of
/// `slot` (one 16-byte word; lanes consecutive, so conflict-free).
#[inline(always)]
fn area_f16(area: u32, log2_n: u32, slot: u32, tile: u32) -> u32 {
    area + 4 * ((slot << log2_n) + spectrum_index(tile, lane(), 0))
}

/// Address in an area of complex f32 entries (8 bytes) of the first half of this lane's four
/// entries of `tile` of `slot`; the second half is 512 bytes on. Each half is a 16-byte word with
/// the lanes consecutive (conflict-free, where a lane's 32 contiguous bytes would not be).
#[inline(always)]
fn area_f32(area: u32, log2_n: u32, slot: u32, tile: u32) -> u32 {
    area + 8 * ((slot << log2_n) + spectrum_index(tile, 0, 0)) + 16 * lane()
}

impl Smem {
    /// Address of the chunk holding position `pos` (a multiple of 8) of `plane`.
    #[inline(always)]
    fn chunk(&self, plane: u32, pos: u32) -> u32 {
        self.base + plane * self.plane_bytes + (swizzle(pos >> 3) << 4)
    }
}

/// One stage: radix `2^log2_r` along the digit of stride `2^log2_m`.
#[derive(Clone, Copy)]
struct Stage {
    log2_r: u32,
    log2_m: u32,
}

const fn num_stages(log2_n: u32) -> u32 {
    log2_n / 4 + if log2_n % 4 != 0 { 1 } else { 0 }
}

#[inline(always)]
fn stage(log2_n: u32, st: u32) -> Stage {
    let rem = log2_n % 4;
    if rem == 0 {
        Stage { log2_r: 4, log2_m: log2_n - 4 * (st + 1) }
    } else if st == 0 {
        Stage { log2_r: rem, log2_m: log2_n - rem }
    } else {
        Stage { log2_r: 4, log2_m: log2_n - rem - 4 * st }
    }
}

/// log2 of the scale a stage of radix `2^log2_r` applies (about `1/√r`, a power of two).
#[inline(always)]
fn stage_scale_log2(log2_r: u32) -> i32 {
    if log2_r == 1 || log2_r == 2 {
        -1
    } else {
        -2
    }
}

/// log2 of the product of all stage scales of one transform direction.
#[inline(always)]
fn transform_scale_log2(log2_n: u32) -> i32 {
    let mut e = 0;
    let mut st = 0;
    while st < num_stages(log2_n) {
        e += stage_scale_log2(stage(log2_n, st).log2_r);
        st += 1;
    }
    e
}

/// `2^e` as f32, `e` clamped to the normal range.
#[inline(always)]
fn pow2(e: i32) -> f32 {
    let e = if e < -126 {
        -126
    } else if e > 127 {
        127
    } else {
        e
    };
    f32::from_bits(((e + 127) as u32) << 23)
}

/// `x · 2^e` for any `e` an f32 result can need (two exact factors).
#[inline(always)]
fn scale_pow2(x: f32, e: i32) -> f32 {
    x * pow2(e / 2) * pow2(e - e / 2)
}

/// The exponent `e` with `m · 2^−e ∈ [0.5, 1)` for a finite `m > 0` (0 for zero or subnormal
/// maxima, whose values are then used as they are).
#[inline(always)]
fn norm_exponent(m: f32) -> i32 {
    let biased = ((m.to_bits() >> 23) & 0xff) as i32;
    if biased == 0 {
        0
    } else {
        biased - 126
    }
}

/// The DFT matrix of one radix as `mma` A fragments: real part, imaginary part and its
/// negation.
struct Dft {
    re: [u32; 4],
    im: [u32; 4],
    neg_im: [u32; 4],
    /// The f16 rounding remainders of the three (used with split precision: the matrix's own
    /// rounding, about 10⁻⁴ per stage, would otherwise dominate the f16 error).
    re_lo: [u32; 4],
    im_lo: [u32; 4],
    neg_im_lo: [u32; 4],
}

impl Dft {
    /// `s · I_{16/r} ⊗ F_r`, `F_r[f, k] = exp(−2πi·fk/r)`, for this lane's fragment entries,
    /// with the stage's power-of-two scale `s` folded in (exact).
    #[inline(always)]
    fn new(log2_r: u32) -> Self {
        let scale = pow2(stage_scale_log2(log2_r));
        let (g, t) = (lane() >> 2, lane() & 3);
        let mut re = [0u32; 4];
        let mut im = [0u32; 4];
        let mut neg_im = [0u32; 4];
        let (mut re_lo, mut im_lo, mut neg_im_lo) = ([0u32; 4], [0u32; 4], [0u32; 4]);
        for reg in 0..4u32 {
            let row = g + 8 * (reg & 1);
            let col0 = 2 * t + 8 * (reg >> 1);
            let mut v = [(0.0f32, 0.0f32); 2];
            for (e, out) in v.iter_mut().enumerate() {
                let col = col0 + e as u32;
                if row >> log2_r == col >> log2_r {
                    let mask = (1 << log2_r) - 1;
                    let (c, s) = radix_root((row & mask) * (col & mask), log2_r);
                    *out = (c * scale, s * scale);
                }
            }
            (re[reg as usize], re_lo[reg as usize]) = split_pack(v[0].0, v[1].0);
            (im[reg as usize], im_lo[reg as usize]) = split_pack(v[0].1, v[1].1);
            (neg_im[reg as usize], neg_im_lo[reg as usize]) = split_pack(-v[0].1, -v[1].1);
        }
        Dft { re, im, neg_im, re_lo, im_lo, neg_im_lo }
    }
}

/// Where a tile sits: what the epilogue needs to locate its four values per part.
#[derive(Clone, Copy)]
struct Tile {
    /// Sequence slot within the block.
    slot: u32,
    /// Tile index within the slot's sequence (`0 .. N/128`).
    local: u32,
    /// Position of the tile's first value within the slot's sequence.
    base: u32,
    /// Offsets from `base` of this lane's four accumulator entries (fixed per stage).
    offsets: [u32; 4],
}

impl Tile {
    /// Position within the slot's sequence of accumulator element `e` of this lane.
    #[inline(always)]
    fn pos(&self, e: usize) -> u32 {
        self.base + self.offsets[e]
    }

    /// Offsets of this lane's accumulator entries from a tile's base in stage `g`: entry `e` is
    /// row (output digit) `g + 8·(e/2)` and column `2t + e%2`.
    #[inline(always)]
    fn offsets(g: Stage) -> [u32; 4] {
        let (gr, t) = (lane() >> 2, lane() & 3);
        let mut out = [0u32; 4];
        for e in 0..4u32 {
            let row = gr + 8 * (e >> 1);
            let col = 2 * t + (e & 1);
            out[e as usize] = if g.log2_m == 0 {
                col * 16 + row
            } else {
                let i = row >> g.log2_r;
                let f = row & ((1 << g.log2_r) - 1);
                (f << g.log2_m) + 8 * i + col
            };
        }
        out
    }
}

/// The twiddles of one stage: `W_S^{c·f}` at position `p`, where `f` is the position's digit of
/// stride `M` and `c` its offset within the stride (`S = r·M`).
#[derive(Clone, Copy)]
struct Twiddles {
    log2_s: u32,
    log2_m: u32,
    /// `−2π / S`.
    step: f32,
}

impl Twiddles {
    #[inline(always)]
    fn of(g: Stage) -> Self {
        let log2_s = g.log2_r + g.log2_m;
        Twiddles { log2_s, log2_m: g.log2_m, step: -2.0 * PI * pow2(-(log2_s as i32)) }
    }

    /// `W_S^{c·f}` (conjugated with `INV`) at position `pos`, from the hardware approximations:
    /// the accurate [`unit_root`] here cost f16 forwards 1.3–1.5× their time on the H100 and
    /// 40–70 more registers in the split backwards, and changed no sweep result.
    #[inline(always)]
    fn at<const INV: bool>(&self, pos: u32) -> (f32, f32) {
        let w = pos & ((1 << self.log2_s) - 1);
        let m = (w >> self.log2_m) * (w & ((1 << self.log2_m) - 1));
        let (c, s) = approx_root(m, self.log2_s, self.step);
        (c, if INV { -s } else { s })
    }
}

impl Twiddles {
    /// As [`Twiddles::at`], from the accurate [`unit_root`] (the long sizes' outer stages,
    /// where `S` reaches `N` and there are few twiddles per value).
    #[inline(always)]
    fn at_accurate<const INV: bool>(&self, pos: u32) -> (f32, f32) {
        let w = pos & ((1 << self.log2_s) - 1);
        let (c, s) = unit_root((w >> self.log2_m) * (w & ((1 << self.log2_m) - 1)), self.log2_s);
        (c, if INV { -s } else { s })
    }
}

/// `W_S^m = exp(−2πi·m/S)` from `sin.approx`/`cos.approx` (absolute error up to 2⁻²¹, below
/// what the f16 data operands carry), for `step = −2π/S`, `S = 2^log2_s ≥ 2`.
#[inline(always)]
fn approx_root(m: u32, log2_s: u32, step: f32) -> (f32, f32) {
    // `m mod S` as a signed value in [−S/2, S/2): the angle stays within ±π.
    let shift = 32 - log2_s;
    let signed = ((m << shift) as i32) >> shift;
    device::cos_sin(signed as f32 * step)
}

/// `W_S^m = exp(−2πi·m/S)` for `S = 2^log2_s ≤ 2^23`, to a few f32 ulps: the quadrant is split
/// off exactly in integers and sin/cos of the rest (within ±π/4) come from Taylor polynomials
/// (truncation < 3·10⁻⁸). Used where [`approx_root`]'s 2⁻²¹ would show next to split data:
/// the outer step of split kernels. (In every stage twiddle it cost the f16 forwards 1.3–1.5×
/// their time on the H100 and changed no sweep result.)
#[inline(always)]
fn unit_root(m: u32, log2_s: u32) -> (f32, f32) {
    let mask = (1u32 << log2_s) - 1;
    let m = m & mask;
    // 4m = q·S + r with r ∈ [−S/2, S/2]: the angle 2π·m/S is q·π/2 + r·(π/2)/S.
    let q = (4 * m + (mask + 1) / 2) >> log2_s;
    let r = (4 * m) as i32 - (q << log2_s) as i32;
    let x = r as f32 * (FRAC_PI_2 * pow2(-(log2_s as i32)));
    let x2 = x * x;
    let sin =
        x * fmaf32(x2, fmaf32(x2, fmaf32(x2, fmaf32(x2, 1.0 / 362880.0, -1.0 / 5040.0), 1.0 / 120.0), -1.0 / 6.0), 1.0);
    let cos = fmaf32(x2, fmaf32(x2, fmaf32(x2, fmaf32(x2, 1.0 / 40320.0, -1.0 / 720.0), 1.0 / 24.0), -0.5), 1.0);
    // exp(i·(qπ/2 + x)), conjugated.
    let (c, s) = match q & 3 {
        0 => (cos, sin),
        1 => (-sin, cos),
        2 => (-cos, -sin),
        _ => (sin, -cos),
    };
    (c, -s)
}

/// The outer step's twiddle `W_N^n`: accurate for split kernels.
#[inline(always)]
fn outer_root<const SPLIT: bool>(n: u32, log2_n: u32) -> (f32, f32) {
    if SPLIT {
        unit_root(n, log2_n)
    } else {
        approx_root(n, log2_n, -2.0 * PI * pow2(-(log2_n as i32)))
    }
}

/// `W_16^m = exp(−2πi·m/16)` for `m < 16`, correctly rounded to f32. Unmangled: a mangled
/// symbol carries a crate hash that depends on the checkout's path, and the committed PTX must
/// be the same wherever it is rebuilt.
#[unsafe(no_mangle)]
static FFTCONV_ROOTS_16: [(f32, f32); 16] = {
    const C: f32 = 0.923_879_5; // cos(π/8)
    const S: f32 = 0.382_683_43; // sin(π/8)
    const H: f32 = core::f32::consts::FRAC_1_SQRT_2;
    [
        (1.0, 0.0),
        (C, -S),
        (H, -H),
        (S, -C),
        (0.0, -1.0),
        (-S, -C),
        (-H, -H),
        (-C, -S),
        (-1.0, 0.0),
        (-C, S),
        (-H, H),
        (-S, C),
        (0.0, 1.0),
        (S, C),
        (H, H),
        (C, S),
    ]
};

/// `W_r^m` for `r = 2^log2_r ≤ 16`, correctly rounded: a lookup in [`FFTCONV_ROOTS_16`] (cheaper per
/// block than `sin/cos.approx`, and exact; the per-block set-up matters at small `N`).
#[inline(always)]
fn radix_root(m: u32, log2_r: u32) -> (f32, f32) {
    FFTCONV_ROOTS_16[((m << (4 - log2_r)) & 15) as usize]
}

/// `a · b` for complex `a`, `b` (as pairs).
#[inline(always)]
fn cmul(a: (f32, f32), b: (f32, f32)) -> (f32, f32) {
    // Fused: rustc never contracts `x * y + z` itself.
    (fmaf32(a.0, b.0, -(a.1 * b.1)), fmaf32(a.0, b.1, a.1 * b.0))
}

/// The radix-2 butterfly of two chunks (8 values per row) in place: `a ← a + b`, `b ← a − b`,
/// element by element, so that only the two chunks are live (the radix-2 stage 0 done in the
/// loads, see `fill_planes`).
#[inline(always)]
fn butterfly(a: &mut [[f32; 8]; 2], b: &mut [[f32; 8]; 2]) {
    for part in 0..2 {
        for i in 0..8 {
            let d = a[part][i] - b[part][i];
            a[part][i] += b[part][i];
            b[part][i] = d;
        }
    }
}

/// log2 of the factor the low parts of split values are stored with: `x − f16(x)` is about
/// 2⁻¹¹ of `x`, so without it the low parts of values below 2⁻³ fall into f16's subnormals
/// (spacing 2⁻²⁴) and lose bits. That happened for sparse data, whose transforms shrink by
/// 2⁻² per radix-16 stage (one value of L = 1 in N = 8K ends near 2⁻¹⁰: only ~3 bits of low
/// part, ≈ 2⁻¹⁴ relative), and failed f16 at `L = 1` by up to 8.7× the floor.
const LO_SHIFT: i32 = 11;

/// f16 pairs of `(lo, hi)` and, with `SPLIT`, of their rounding remainders times
/// `2^LO_SHIFT`.
#[inline(always)]
fn split_pack(lo: f32, hi: f32) -> (u32, u32) {
    let h = device::pack_f16x2(lo, hi);
    let back_lo = device::f16_to_f32(h as u16);
    let back_hi = device::f16_to_f32((h >> 16) as u16);
    let up = pow2(LO_SHIFT);
    (h, device::pack_f16x2((lo - back_lo) * up, (hi - back_hi) * up))
}

/// Shared-memory address this lane gives `ldmatrix`/`stmatrix` for tile `local` of `slot` in
/// stage `g`, and the tile's base position (see [`Tile`]). Lane `8m + r` addresses row `r` of
/// matrix `m`: matrices 0 and 1 are the real part's DFT inputs 0–7 and 8–15, 2 and 3 the
/// imaginary part's.
#[inline(always)]
fn tile_address(sm: &Smem, log2_n: u32, g: Stage, slot: u32, local: u32) -> (u32, u32) {
    let lane = lane();
    let (matrix, row) = (lane >> 3, lane & 7);
    let (pos, base) = if g.log2_m == 0 {
        // Radix 16 at stride 1: each matrix row is 8 consecutive inputs of one DFT.
        (local * 128 + row * 16 + 8 * (matrix & 1), local * 128)
    } else {
        // Each matrix row is 8 consecutive columns of one input digit.
        let log2_s = g.log2_r + g.log2_m;
        let log2_groups = log2_s - 7;
        let block_start = (local >> log2_groups) << log2_s;
        let col0 = (local & ((1 << log2_groups) - 1)) << (7 - g.log2_r);
        let k = row + 8 * (matrix & 1);
        let i = k >> g.log2_r;
        let j = k & ((1 << g.log2_r) - 1);
        (block_start + (j << g.log2_m) + col0 + 8 * i, block_start + col0)
    };
    (sm.chunk(matrix >> 1, (slot << log2_n) + pos), base)
}

/// Stores a tile's f32 results (this lane's accumulator entries) at `addr` from
/// [`tile_address`], as f16 (and the low parts with `SPLIT`).
///
/// # Safety
/// All lanes take part; `addr` from [`tile_address`] for stage `g`.
#[inline(always)]
unsafe fn store_tile<const SPLIT: bool>(sm: &Smem, g: Stage, addr: u32, re: &[f32; 4], im: &[f32; 4]) {
    let (r01, r01_lo) = split_pack(re[0], re[1]);
    let (r23, r23_lo) = split_pack(re[2], re[3]);
    let (i01, i01_lo) = split_pack(im[0], im[1]);
    let (i23, i23_lo) = split_pack(im[2], im[3]);
    let lo_addr = addr + 2 * sm.plane_bytes;
    // SAFETY: guaranteed by the caller.
    unsafe {
        if g.log2_m == 0 {
            device::stmatrix_x4::<true>(addr, [r01, r23, i01, i23]);
            if SPLIT {
                device::stmatrix_x4::<true>(lo_addr, [r01_lo, r23_lo, i01_lo, i23_lo]);
            }
        } else {
            device::stmatrix_x4::<false>(addr, [r01, r23, i01, i23]);
            if SPLIT {
                device::stmatrix_x4::<false>(lo_addr, [r01_lo, r23_lo, i01_lo, i23_lo]);
            }
        }
    }
}

/// A tile's DFT product: the f32 results (real, imaginary; this lane's accumulator entries) of
/// the DFT matrix (conjugate with `INV`) times the tile `x` (`[re k0–7, re k8–15, im k0–7,
/// im k8–15]` as `mma` B fragments), with `SPLIT` plus the cross terms of the low parts `lo`
/// (same layout, scaled by `2^LO_SHIFT`) and of the matrix's.
#[inline(always)]
fn tile_product<const SPLIT: bool, const INV: bool>(dft: &Dft, x: [u32; 4], lo: [u32; 4]) -> ([f32; 4], [f32; 4]) {
    let (a_re_im, a_im_re) = if INV { (&dft.im, &dft.neg_im) } else { (&dft.neg_im, &dft.im) };
    let (xr, xi) = ([x[0], x[1]], [x[2], x[3]]);
    let mut re = device::mma_f16(&dft.re, xr, [0.0; 4]);
    re = device::mma_f16(a_re_im, xi, re);
    let mut im = device::mma_f16(a_im_re, xr, [0.0; 4]);
    im = device::mma_f16(&dft.re, xi, im);
    if SPLIT {
        // The cross terms (data low part × matrix, matrix low part × data), both scaled by
        // `2^LO_SHIFT`, in their own accumulators.
        let (a_re_im_lo, a_im_re_lo) = if INV { (&dft.im_lo, &dft.neg_im_lo) } else { (&dft.neg_im_lo, &dft.im_lo) };
        let (lr, li) = ([lo[0], lo[1]], [lo[2], lo[3]]);
        let mut re_lo = device::mma_f16(&dft.re, lr, [0.0; 4]);
        re_lo = device::mma_f16(a_re_im, li, re_lo);
        let mut im_lo = device::mma_f16(a_im_re, lr, [0.0; 4]);
        im_lo = device::mma_f16(&dft.re, li, im_lo);
        re_lo = device::mma_f16(&dft.re_lo, xr, re_lo);
        re_lo = device::mma_f16(a_re_im_lo, xi, re_lo);
        im_lo = device::mma_f16(a_im_re_lo, xr, im_lo);
        im_lo = device::mma_f16(&dft.re_lo, xi, im_lo);
        let down = pow2(-LO_SHIFT);
        for e in 0..4 {
            re[e] = fmaf32(re_lo[e], down, re[e]);
            im[e] = fmaf32(im_lo[e], down, im[e]);
        }
    }
    (re, im)
}

/// One stage over every tile of the block: load, multiply by the DFT matrix (conjugate with
/// `INV`), `epilogue` on the f32 results, store back in place.
///
/// # Safety
/// Called by all threads of the block between barriers, with the shared memory of `sm`.
#[inline(always)]
unsafe fn run_stage<const SPLIT: bool, const INV: bool, F: FnMut(&Tile, &mut [f32; 4], &mut [f32; 4])>(
    sm: &Smem,
    log2_n: u32,
    g: Stage,
    dft: &Dft,
    mut epilogue: F,
) {
    let log2_tiles = log2_n - 7;
    let total = pairs_per_block(log2_n) << log2_tiles;
    let offsets = Tile::offsets(g);
    // Each warp takes its tiles `TILES_AT_ONCE` at a time, so that one tile's loads and products
    // can overlap another's latencies.
    let mut tau = thread_x() >> 5;
    while tau < total {
        let mut tiles = [Tile { slot: 0, local: 0, base: 0, offsets }; TILES_AT_ONCE];
        let mut addrs = [0u32; TILES_AT_ONCE];
        let mut x = [[0u32; 4]; TILES_AT_ONCE];
        let mut lo = [[0u32; 4]; TILES_AT_ONCE];
        for u in 0..TILES_AT_ONCE {
            let t = tau + u as u32 * WARPS;
            let (slot, local) = (t >> log2_tiles, t & ((1 << log2_tiles) - 1));
            let (addr, base) = tile_address(sm, log2_n, g, slot, local);
            tiles[u] = Tile { slot, local, base, offsets };
            addrs[u] = addr;
            // SAFETY: `addr` is a chunk of this block's planes (the low planes follow at
            // `2 · plane_bytes`); all lanes take part.
            unsafe {
                if g.log2_m == 0 {
                    x[u] = device::ldmatrix_x4::<false>(addr);
                    if SPLIT {
                        lo[u] = device::ldmatrix_x4::<false>(addr + 2 * sm.plane_bytes);
                    }
                } else {
                    x[u] = device::ldmatrix_x4::<true>(addr);
                    if SPLIT {
                        lo[u] = device::ldmatrix_x4::<true>(addr + 2 * sm.plane_bytes);
                    }
                }
            }
        }
        let mut re = [[0.0f32; 4]; TILES_AT_ONCE];
        let mut im = [[0.0f32; 4]; TILES_AT_ONCE];
        for u in 0..TILES_AT_ONCE {
            (re[u], im[u]) = tile_product::<SPLIT, INV>(dft, x[u], lo[u]);
        }
        for u in 0..TILES_AT_ONCE {
            epilogue(&tiles[u], &mut re[u], &mut im[u]);
        }
        for u in 0..TILES_AT_ONCE {
            // SAFETY: the same chunks this warp loaded; no other warp touches them in this stage.
            unsafe { store_tile::<SPLIT>(sm, g, addrs[u], &re[u], &im[u]) };
        }
        tau += TILES_AT_ONCE as u32 * WARPS;
    }
}

/// The two last stages of a direction's order (radix 16 at strides 16 and 1; the inverse takes
/// them from stride 1) over every 256-value block of the slots, one warp per block, without a
/// shared-memory round trip between them. The first stage's results of the block's two tiles
/// are exactly the second stage's `mma` B fragments: entry `e` of tile `h` (output digit
/// `g + 8·(e/2)`, column `8h + 2t + e%2`) is entry `e%2 + 2h` of column tile `e/2`, so each lane
/// packs its own values. `first_epilogue` and `second_epilogue` act as in [`run_stage`], with the
/// tiles each stage would have had on its own.
///
/// # Safety
/// As [`run_stage`].
#[inline(always)]
unsafe fn run_stage_pair<
    const SPLIT: bool,
    const INV: bool,
    F: FnMut(&Tile, &mut [f32; 4], &mut [f32; 4]),
    G: FnMut(&Tile, &mut [f32; 4], &mut [f32; 4]),
>(
    sm: &Smem,
    log2_n: u32,
    dft16: &Dft,
    mut first_epilogue: F,
    mut second_epilogue: G,
) {
    let stride_16 = Stage { log2_r: 4, log2_m: 4 };
    let stride_1 = Stage { log2_r: 4, log2_m: 0 };
    let (g_first, g_second) = if INV { (stride_1, stride_16) } else { (stride_16, stride_1) };
    let log2_tiles = log2_n - 7;
    let total = pairs_per_block(log2_n) << log2_tiles;
    let (offsets_first, offsets_second) = (Tile::offsets(g_first), Tile::offsets(g_second));
    // Tiles `2b` and `2b + 1` of either stage are the 256-value block `b`.
    let mut tau = 2 * (thread_x() >> 5);
    while tau < total {
        let (slot, local) = (tau >> log2_tiles, tau & ((1 << log2_tiles) - 1));
        let mut next = [[0u32; 4]; 2];
        let mut next_lo = [[0u32; 4]; 2];
        for h in 0..2u32 {
            let (addr, base) = tile_address(sm, log2_n, g_first, slot, local + h);
            let mut lo = [0u32; 4];
            // SAFETY: `addr` is a chunk of this block's planes (the low planes follow at
            // `2 · plane_bytes`); all lanes take part; the block is this warp's alone.
            let x = unsafe {
                if INV {
                    if SPLIT {
                        lo = device::ldmatrix_x4::<false>(addr + 2 * sm.plane_bytes);
                    }
                    device::ldmatrix_x4::<false>(addr)
                } else {
                    if SPLIT {
                        lo = device::ldmatrix_x4::<true>(addr + 2 * sm.plane_bytes);
                    }
                    device::ldmatrix_x4::<true>(addr)
                }
            };
            let (mut re, mut im) = tile_product::<SPLIT, INV>(dft16, x, lo);
            first_epilogue(&Tile { slot, local: local + h, base, offsets: offsets_first }, &mut re, &mut im);
            for q in 0..2 {
                let (r, r_lo) = split_pack(re[2 * q], re[2 * q + 1]);
                let (i, i_lo) = split_pack(im[2 * q], im[2 * q + 1]);
                (next[q][h as usize], next[q][2 + h as usize]) = (r, i);
                (next_lo[q][h as usize], next_lo[q][2 + h as usize]) = (r_lo, i_lo);
            }
        }
        for q in 0..2u32 {
            let (mut re, mut im) = tile_product::<SPLIT, INV>(dft16, next[q as usize], next_lo[q as usize]);
            let (addr, base) = tile_address(sm, log2_n, g_second, slot, local + q);
            second_epilogue(&Tile { slot, local: local + q, base, offsets: offsets_second }, &mut re, &mut im);
            // SAFETY: chunks of this warp's block, which it has read in full above.
            unsafe { store_tile::<SPLIT>(sm, g_second, addr, &re, &im) };
        }
        tau += 2 * WARPS;
    }
}

/// Whether a kernel for `N = 2^log2_n` (the long *mid* passes: `N₂`), whose transforms start at
/// stage 1 if `stage0_outside` else 0 and whose blocks take `shared_bytes`, runs its two stages at
/// strides 16 and 1 as one pass ([`run_stage_pair`]): where the two are the whole transform
/// (N = 256, and the zero-half 512), where the kernel's shared memory allows one block per SM
/// anyway, and at 32K (two-block clusters; the one kernel there with two blocks per SM, the
/// unsplit forward, keeps its 128 registers with the pair). The pass holds two tiles' results,
/// and elsewhere its registers cost a block per SM or spills (H200, same-call A/B with it in
/// every kernel: the bf16 backwards from 512 to 16K +15 to +45 %; where it costs no occupancy,
/// −2 to −7 %; on-chip perf notes v16, v18, v19). `room`: the caller's registers stay within
/// their blocks-per-SM step with the pair (ptxas: the split forwards up to 2K, 94–108 registers
/// at two blocks per SM, and the split backwards up to 1K, 146–153 at one).
const fn pair_last_stages(log2_n: u32, stage0_outside: bool, shared_bytes: u32, room: bool) -> bool {
    // 228 KiB per SM, 1 KiB of it reserved per block (H100, H200).
    num_stages(inner_log2(log2_n)) - stage0_outside as u32 == 2
        || 2 * (shared_bytes + 1024) > 228 << 10
        || log2_n == 15
        || room
}

/// Forward transform of every slot from stage `first` on (1: the load did stage 0, see
/// `load_input`); `last` is the epilogue of the last stage (whose twiddles are all one): it
/// receives the spectrum scaled by the transform's stage scales. `pair`: see
/// [`pair_last_stages`].
///
/// # Safety
/// As [`run_stage`]; starts with a barrier (the data must be in shared memory before).
#[inline(always)]
unsafe fn forward_fft<const SPLIT: bool, F: FnMut(&Tile, &mut [f32; 4], &mut [f32; 4])>(
    sm: &Smem,
    log2_n: u32,
    dft16: &Dft,
    dft_first: &Dft,
    first: u32,
    pair: bool,
    mut last: F,
) {
    let ns = num_stages(log2_n);
    // With `pair`, the last two stages as one pass (see `pair_last_stages`).
    let paired = if pair && ns - first >= 2 { 2 } else { 0 };
    for st in first..ns - paired {
        sync_threads();
        let g = stage(log2_n, st);
        let dft = if g.log2_r == 4 { dft16 } else { dft_first };
        if st + 1 < ns {
            let tw = Twiddles::of(g);
            // SAFETY: forwarded.
            unsafe {
                run_stage::<SPLIT, false, _>(sm, log2_n, g, dft, |tile, re, im| {
                    for e in 0..4 {
                        (re[e], im[e]) = cmul((re[e], im[e]), tw.at::<false>(tile.pos(e)));
                    }
                })
            };
        } else {
            // SAFETY: forwarded.
            unsafe { run_stage::<SPLIT, false, _>(sm, log2_n, g, dft, |tile, re, im| last(tile, re, im)) };
        }
    }
    if paired != 0 {
        sync_threads();
        let tw = Twiddles::of(stage(log2_n, ns - 2));
        // SAFETY: forwarded.
        unsafe {
            run_stage_pair::<SPLIT, false, _, _>(
                sm,
                log2_n,
                dft16,
                |tile, re, im| {
                    for e in 0..4 {
                        (re[e], im[e]) = cmul((re[e], im[e]), tw.at::<false>(tile.pos(e)));
                    }
                },
                |tile, re, im| last(tile, re, im),
            )
        };
    }
}

/// Inverse transform of every slot (digit-reversed spectrum in, natural order out), scaled by
/// the stage scales, down to stage `first` (1: the store does stage 0, see `store_pair`).
/// `pair`: see [`pair_last_stages`].
///
/// # Safety
/// As [`forward_fft`].
#[inline(always)]
unsafe fn inverse_fft<const SPLIT: bool>(sm: &Smem, log2_n: u32, dft16: &Dft, dft_first: &Dft, first: u32, pair: bool) {
    let ns = num_stages(log2_n);
    // With `pair`, the stages at strides 1 and 16 as one pass (see `pair_last_stages`).
    let paired = if pair && ns - first >= 2 { 2 } else { 0 };
    if paired != 0 {
        sync_threads();
        let tw_second = Twiddles::of(stage(log2_n, ns - 2));
        let has_third = ns - 2 > 0;
        let tw_third = Twiddles::of(stage(log2_n, if has_third { ns - 3 } else { 0 }));
        // SAFETY: forwarded.
        unsafe {
            run_stage_pair::<SPLIT, true, _, _>(
                sm,
                log2_n,
                dft16,
                |tile, re, im| {
                    for e in 0..4 {
                        (re[e], im[e]) = cmul((re[e], im[e]), tw_second.at::<true>(tile.pos(e)));
                    }
                },
                |tile, re, im| {
                    if has_third {
                        for e in 0..4 {
                            (re[e], im[e]) = cmul((re[e], im[e]), tw_third.at::<true>(tile.pos(e)));
                        }
                    }
                },
            )
        };
    }
    for k in paired..ns - first {
        sync_threads();
        let st = ns - 1 - k;
        let g = stage(log2_n, st);
        let dft = if g.log2_r == 4 { dft16 } else { dft_first };
        // The twiddles of stage `st − 1` precede its butterflies in the inverse: apply them
        // here, at the same positions.
        if st > 0 {
            let tw = Twiddles::of(stage(log2_n, st - 1));
            // SAFETY: forwarded.
            unsafe {
                run_stage::<SPLIT, true, _>(sm, log2_n, g, dft, |tile, re, im| {
                    for e in 0..4 {
                        (re[e], im[e]) = cmul((re[e], im[e]), tw.at::<true>(tile.pos(e)));
                    }
                })
            };
        } else {
            // SAFETY: forwarded.
            unsafe { run_stage::<SPLIT, true, _>(sm, log2_n, g, dft, |_, _, _| {}) };
        }
    }
}

/// Per-slot row bookkeeping of a block: which threads serve which slot.
#[derive(Clone, Copy)]
struct SlotThreads {
    slot: u32,
    /// Index of this thread among its slot's threads.
    index: u32,
    count: u32,
}

impl SlotThreads {
    #[inline(always)]
    fn new(log2_n: u32) -> Self {
        let count = THREADS / pairs_per_block(log2_n);
        SlotThreads { slot: thread_x() / count, index: thread_x() % count, count }
    }
}

/// Largest value of `v` over the threads of each slot (all threads call; each gets its slot's).
///
/// # Safety
/// Called by all threads between barriers; uses the reduction area of `sm`.
#[inline(always)]
unsafe fn slot_max(sm: &Smem, st: &SlotThreads, v: f32) -> f32 {
    let mut m = v;
    let mut mask = 16;
    while mask > 0 {
        m = m.max(f32::from_bits(device::shfl_xor_u32(m.to_bits(), mask)));
        mask >>= 1;
    }
    let warp = thread_x() >> 5;
    if lane() == 0 {
        // SAFETY: one f32 per warp in the reduction area.
        unsafe { device::st_shared_f32(sm.reduce + 4 * warp, m) };
    }
    sync_threads();
    let warps = st.count / 32;
    let mut out = 0.0f32;
    for w in 0..warps {
        // SAFETY: written above, ordered by the barrier.
        out = out.max(unsafe { device::ld_shared_f32(sm.reduce + 4 * (st.slot * warps + w)) });
    }
    sync_threads();
    out
}

/// A (B, H, L) row pair: element offsets of its two rows (`second` absent for an odd batch's
/// last row) or none for an idle slot.
#[derive(Clone, Copy)]
struct Rows {
    first: u64,
    second: Option<u64>,
}

impl Rows {
    /// The rows of pair `j` of head `h`.
    #[inline(always)]
    fn of(p: &FftConvParams, h: u32, j: u32) -> Self {
        Rows::new(p.batch, p.heads, p.len, h, j)
    }

    /// The rows of pair `j` of head `h` in a `(batch, heads, len)` tensor.
    #[inline(always)]
    fn new(batch: u32, heads: u32, len: u32, h: u32, j: u32) -> Self {
        let (b, hs, l) = (batch as u64, heads as u64, len as u64);
        let b0 = 2 * j as u64;
        let first = (b0 * hs + h as u64) * l;
        Rows { first, second: if b0 + 1 < b { Some(first + hs * l) } else { None } }
    }
}

/// 8 consecutive elements `x[row + 8·chunk ..]` times the gate's (zeros past `len`), in f32.
///
/// # Safety
/// `x` (and `gate` unless null) hold the row; with `vector`, rows are 16-byte aligned and `len`
/// is a multiple of 8.
#[inline(always)]
unsafe fn load_chunk<E: Element>(
    x: *const E,
    gate: *const E,
    row: u64,
    chunk: u32,
    len: u32,
    vector: bool,
) -> [f32; 8] {
    let start = chunk * 8;
    let mut v = [0.0f32; 8];
    if start >= len {
        return v;
    }
    // SAFETY: guaranteed by the caller; every index read is below `len`.
    unsafe {
        let px = x.add((row + start as u64) as usize);
        if vector {
            v = E::load8(px);
            if !gate.is_null() {
                let gv = E::load8(gate.add((row + start as u64) as usize));
                for e in 0..8 {
                    v[e] *= gv[e];
                }
            }
        } else {
            for e in 0..8u32 {
                if start + e < len {
                    v[e as usize] = E::load(px.add(e as usize));
                    if !gate.is_null() {
                        v[e as usize] *= E::load(gate.add((row + (start + e) as u64) as usize));
                    }
                }
            }
        }
    }
    v
}

/// What a slot reads for one transform: `gate ⊙ x` on its row pair (none for an idle slot), of
/// length `len`; `vector` as in [`load_chunk`].
#[derive(Clone, Copy)]
struct PairInput<E> {
    rows: Option<Rows>,
    x: *const E,
    gate: *const E,
    len: u32,
    vector: bool,
}

/// The exponent `e` that brings the largest magnitude of `gate ⊙ x` over this slot's row pair
/// into `[0.5, 1)` (all threads call; idle slots pass `rows = None`). Loads `group` (≤
/// [`LOAD_GROUP`]) chunks at a time (vector rows through predicated loads, see
/// [`pair_chunk_group`]). Ends with a barrier. With `cluster` (the two blocks of a cluster share
/// the pair, one slot each) each block reads half the chunks and the maxima are exchanged through
/// distributed shared memory between two cluster barriers.
///
/// # Safety
/// As [`load_chunk`] for the rows given; called between barriers by all threads.
#[inline(always)]
unsafe fn input_exponent<E: Element>(
    sm: &Smem,
    st: &SlotThreads,
    inp: &PairInput<E>,
    group: u32,
    cluster: bool,
) -> i32 {
    let len = inp.len;
    let mut m = 0.0f32;
    let round = group.min(LOAD_GROUP as u32) * st.count;
    // In a cluster (one slot per block), block `r` reads alternate rounds of chunks and the two
    // maxima are exchanged below.
    let (start, step) =
        if cluster { (st.index + round * device::cluster_rank(), 2 * round) } else { (st.index, round) };
    if inp.rows.is_some() {
        // Groups of chunks, every load of a group issued before the first use.
        let mut c = start;
        while c < len.div_ceil(8) {
            // SAFETY: forwarded.
            let v = unsafe {
                let wanted = |k: u32| k < group && c + k * st.count < len.div_ceil(8);
                pair_chunk_group::<E, LOAD_GROUP>(inp, c, st.count, wanted, group)
            };
            for k in 0..LOAD_GROUP {
                for part in 0..2 {
                    for e in 0..8 {
                        m = m.max(v[k][part][e].abs());
                    }
                }
            }
            c += step;
        }
    }
    // SAFETY: forwarded.
    let mut m = unsafe { slot_max(sm, st, m) };
    if cluster {
        let word = slot_word(sm, 3, 0);
        if thread_x() == 0 {
            // SAFETY: a word of the reduction area.
            unsafe { device::st_shared_f32(word, m) };
        }
        device::sync_cluster();
        for rank in 0..2 {
            // SAFETY: the word of each block of the cluster (the same address in each), written
            // before the barrier; the second barrier keeps it until both blocks have read it.
            m = m.max(unsafe { device::ld_cluster_shared_f32(word, rank) });
        }
        device::sync_cluster();
    }
    norm_exponent(m)
}

/// The pair's chunk `c` (8 positions from `8c`) as (first row, second row), zero for idle slots.
///
/// # Safety
/// As [`load_chunk`].
#[inline(always)]
unsafe fn pair_chunk<E: Element>(inp: &PairInput<E>, c: u32) -> [[f32; 8]; 2] {
    let PairInput { rows, x, gate, len, vector } = *inp;
    match rows {
        // SAFETY: forwarded.
        Some(r) => unsafe {
            [
                load_chunk(x, gate, r.first, c, len, vector),
                match r.second {
                    Some(s) => load_chunk(x, gate, s, c, len, vector),
                    None => [0.0; 8],
                },
            ]
        },
        None => [[0.0; 8]; 2],
    }
}

/// Chunks `c + k·step` of the pair ([`pair_chunk`]) for the `k < K` that `wanted` accepts,
/// zero for the others. For vector rows the chunks `k < cap` are read instead by
/// [`pair_chunk_vector`] in one basic block (`cap` a constant; `wanted` must accept every
/// `k < cap` whose chunk starts below `len`), so that every load is issued before the first
/// use. The raw words of all chunks are then live at once; with `cap` at the chunks a thread
/// owns, every forward and backward affords it (docs/perf-notes.md, v6).
///
/// # Safety
/// As [`pair_chunk`].
#[inline(always)]
unsafe fn pair_chunk_group<E: Element, const K: usize>(
    inp: &PairInput<E>,
    c: u32,
    step: u32,
    wanted: impl Fn(u32) -> bool,
    cap: u32,
) -> [[[f32; 8]; 2]; K] {
    let mut v = [[[0.0f32; 8]; 2]; K];
    for (k, chunk) in v.iter_mut().enumerate() {
        let k = k as u32;
        if inp.vector {
            if k < cap {
                // SAFETY: forwarded; the loads past `len` are predicated off.
                *chunk = unsafe { pair_chunk_vector::<E, false>(inp, c + k * step) };
            }
        } else if wanted(k) {
            // SAFETY: forwarded.
            *chunk = unsafe { pair_chunk(inp, c + k * step) };
        }
    }
    v
}

/// As [`pair_chunk`] (chunk `c` of `gate ⊙ x` for both rows of the pair, zero past `len` and for
/// absent rows) for vector rows, with predicated loads: no branch per chunk, so that a thread's
/// loads are all issued before the first use (with a branch per chunk they waited on each
/// other: the H100 profile of *in* showed them serialised).
///
/// # Safety
/// As [`pair_chunk`], with `inp.vector` (16-byte aligned rows whose chunks below `len` are whole).
#[inline(always)]
unsafe fn pair_chunk_vector<E: Element, const WIDE_L2: bool>(inp: &PairInput<E>, c: u32) -> [[f32; 8]; 2] {
    let PairInput { rows, x, gate, len, .. } = *inp;
    let start = 8 * c;
    let live = start < len && rows.is_some();
    let (first, second, has_second) = match rows {
        Some(r) => (r.first, r.second.unwrap_or(r.first), r.second.is_some()),
        None => (0, 0, false),
    };
    let has_gate = !gate.is_null();
    let at = |base: *const E, row: u64| base.wrapping_add((row + start as u64) as usize);
    // SAFETY: each load runs only under its predicate: the chunk lies below `len` in a row that
    // exists (and the gate is given).
    let (mut v, g) = unsafe {
        (
            [E::load8_if::<WIDE_L2>(at(x, first), live), E::load8_if::<WIDE_L2>(at(x, second), live && has_second)],
            [
                E::load8_if::<WIDE_L2>(at(gate, first), live && has_gate),
                E::load8_if::<WIDE_L2>(at(gate, second), live && has_second && has_gate),
            ],
        )
    };
    for part in 0..2 {
        for e in 0..8 {
            v[part][e] *= if has_gate { g[part][e] } else { 1.0 };
        }
    }
    v
}

/// Fills this slot's planes with `2^−e · (gate ⊙ x)` of the row pair (first row real, second
/// imaginary; zero past `len` and for absent rows). With an outer step (`N = 2N'`), half 0 gets
/// `z[n] + z[n + N']` and half 1 `(z[n] − z[n + N']) · W_N^n`, `n < N'`. No barrier.
///
/// With `stage0` (sizes whose stage 0 is radix 2 at stride `N/2`, no outer step) the fill also
/// does that stage: position `n < N/2` gets `(x[n] + x[n + N/2])/2` and `n + N/2` gets
/// `(x[n] − x[n + N/2])·W_N^n/2` (the stage's scale 1/2 through the exponent). With `zero_half`
/// (`len ≤ N/2`) at sizes whose stage 0 is radix 4 (16K) the fill does that stage: see the body.
///
/// # Safety
/// As [`load_chunk`] for the rows given; the planes are free.
#[inline(always)]
unsafe fn fill_planes<E: Element, const SPLIT: bool>(
    sm: &Smem,
    log2_n: u32,
    half: u32,
    st: &SlotThreads,
    inp: &PairInput<E>,
    e: i32,
    stage0: bool,
    zero_half: bool,
) {
    let log2_inner = inner_log2(log2_n);
    let chunks = 1u32 << (log2_inner - 3);
    if zero_half && log2_inner % 4 == 2 {
        // Stage 0 is radix 4 at stride N/4 and the upper half is zero: position `n + f·N/4` (`n < N/4`) gets `(x[n] + W₄^f·x[n + N/4])·W_N^{fn}/2`.
        // The lower half's inputs go to the planes as they are (one chunk live at a time), then
        // the stage runs there half a chunk at a time (in registers, next to the loads, it
        // spilled at the 80-register bound). A thread's chunks `c` and `c + N/32` are both its
        // own (`N/32` chunks is a multiple of the slot's threads), so no barrier is needed.
        let quarter = chunks / 4;
        let slot_base = st.slot << log2_inner;
        let mut c = st.index;
        while c < 2 * quarter {
            // SAFETY: forwarded; this thread's chunks of the free planes.
            unsafe { write_chunk::<SPLIT>(sm, slot_base + 8 * c, &pair_chunk(inp, c), e) };
            c += st.count;
        }
        let mut c = st.index;
        while c < quarter {
            // SAFETY: chunks `c + f·N/32` of this thread (see above).
            unsafe {
                radix4_in_planes::<SPLIT, false, true>(sm, slot_base + 8 * c, 8 * quarter, |f, i| {
                    Some(outer_root::<SPLIT>(f * (8 * c + i), log2_inner))
                })
            };
            c += st.count;
        }
        return;
    }
    if stage0 {
        let half_chunks = chunks / 2;
        let mut c = st.index;
        while c < half_chunks {
            // SAFETY: forwarded.
            let (mut v, mut w) = unsafe { (pair_chunk(inp, c), pair_chunk(inp, c + half_chunks)) };
            butterfly(&mut v, &mut w);
            let at = (st.slot << log2_inner) + 8 * c;
            // SAFETY: forwarded.
            unsafe { write_chunk::<SPLIT>(sm, at, &v, e + 1) };
            for i in 0..8 {
                let w_n = outer_root::<SPLIT>(8 * c + i as u32, log2_inner);
                (w[0][i], w[1][i]) = cmul((w[0][i], w[1][i]), w_n);
            }
            // SAFETY: forwarded.
            unsafe { write_chunk::<SPLIT>(sm, at + 8 * half_chunks, &w, e + 1) };
            c += st.count;
        }
        return;
    }
    let mut c = st.index;
    while c < chunks {
        // SAFETY: forwarded.
        let mut v = unsafe { pair_chunk(inp, c) };
        if halves(log2_n) > 1 {
            // SAFETY: forwarded.
            let w = unsafe { pair_chunk(inp, c + chunks) };
            for i in 0..8 {
                if half == 0 {
                    v[0][i] += w[0][i];
                    v[1][i] += w[1][i];
                } else {
                    let (cs, sn) = outer_root::<SPLIT>(8 * c + i as u32, log2_n);
                    (v[0][i], v[1][i]) = cmul((v[0][i] - w[0][i], v[1][i] - w[1][i]), (cs, sn));
                }
            }
        }
        // SAFETY: forwarded.
        unsafe { write_chunk::<SPLIT>(sm, (st.slot << log2_inner) + 8 * c, &v, e) };
        c += st.count;
    }
}

/// The 4-point DFT `X_f = Σ_k x_k·W₄^{fk}`, `W₄ = −i` (`+i` with `INV`).
#[inline(always)]
fn dft4<const INV: bool>(x: [(f32, f32); 4]) -> [(f32, f32); 4] {
    let (a, b) = ((x[0].0 + x[2].0, x[0].1 + x[2].1), (x[0].0 - x[2].0, x[0].1 - x[2].1));
    let (c, d) = ((x[1].0 + x[3].0, x[1].1 + x[3].1), (x[1].0 - x[3].0, x[1].1 - x[3].1));
    // `b ∓ i·d` (forward X₁, X₃; swapped for the inverse).
    let (b_minus_id, b_plus_id) = ((b.0 + d.1, b.1 - d.0), (b.0 - d.1, b.1 + d.0));
    let (x1, x3) = if INV { (b_plus_id, b_minus_id) } else { (b_minus_id, b_plus_id) };
    [(a.0 + c.0, a.1 + c.1), x1, (a.0 - c.0, a.1 - c.1), x3]
}

/// A radix-4 stage on one thread's four chunks of the planes at `pos + f·q` (`f = 0..4`), in
/// place: `X_f = Σ_k x_k·W₄^{fk}` (conjugate roots with `INV`), times `twiddle(f, i)` for
/// element `i` of chunk `f > 0` where it is `Some`, written as `X_f/2` (the stage's scale). With
/// `ZERO_UPPER` inputs 2 and 3 are zero and not read (their chunks are free). Half a chunk (4
/// values) at a time, so that few values are live: the callers sit at 80-register bounds.
///
/// # Safety
/// The four chunks are this thread's to read and write (no other thread touches them between
/// the barriers around).
#[inline(always)]
unsafe fn radix4_in_planes<const SPLIT: bool, const INV: bool, const ZERO_UPPER: bool>(
    sm: &Smem,
    pos: u32,
    q: u32,
    mut twiddle: impl FnMut(u32, u32) -> Option<(f32, f32)>,
) {
    let down = pow2(-LO_SHIFT);
    let addr = |plane: u32, f: u32, half: u32| sm.chunk(plane, pos + f * q) + 8 * half;
    for half in 0..2u32 {
        // x[k][part][i]: this half's 4 values of input `k`.
        let mut x = [[[0.0f32; 4]; 2]; 4];
        for (k, xk) in x.iter_mut().enumerate() {
            if ZERO_UPPER && k >= 2 {
                continue;
            }
            for (part, xp) in xk.iter_mut().enumerate() {
                // SAFETY: guaranteed by the caller (the low planes follow the high ones).
                let hi = unsafe { device::ld_shared_8b(addr(part as u32, k as u32, half)) };
                let lo =
                    if SPLIT { unsafe { device::ld_shared_8b(addr(part as u32 + 2, k as u32, half)) } } else { [0; 2] };
                for w in 0..2 {
                    for j in 0..2 {
                        let h = device::f16_to_f32((hi[w] >> (16 * j)) as u16);
                        xp[2 * w + j] =
                            if SPLIT { fmaf32(device::f16_to_f32((lo[w] >> (16 * j)) as u16), down, h) } else { h };
                    }
                }
            }
        }
        let mut hi = [[[0u32; 2]; 2]; 4];
        let mut lo = [[[0u32; 2]; 2]; 4];
        for w in 0..2 {
            let mut out = [[[0.0f32; 2]; 2]; 4];
            for j in 0..2 {
                let i = 2 * w + j;
                let mut v = dft4::<INV>([0, 1, 2, 3].map(|k| (x[k][0][i], x[k][1][i])));
                for (f, vf) in v.iter_mut().enumerate().skip(1) {
                    if let Some(t) = twiddle(f as u32, 4 * half + i as u32) {
                        *vf = cmul(*vf, t);
                    }
                }
                for f in 0..4 {
                    (out[f][0][j], out[f][1][j]) = (0.5 * v[f].0, 0.5 * v[f].1);
                }
            }
            for f in 0..4 {
                for part in 0..2 {
                    (hi[f][part][w], lo[f][part][w]) = split_pack(out[f][part][0], out[f][part][1]);
                }
            }
        }
        for f in 0..4 {
            for part in 0..2 {
                // SAFETY: as above.
                unsafe {
                    device::st_shared_8b(addr(part as u32, f as u32, half), hi[f][part]);
                    if SPLIT {
                        device::st_shared_8b(addr(part as u32 + 2, f as u32, half), lo[f][part]);
                    }
                }
            }
        }
    }
}

/// Writes `2^−e · v` (first row real, second imaginary) at positions `pos..pos + 8` of the
/// planes.
///
/// # Safety
/// `pos` is a multiple of 8 inside the planes, which are free.
#[inline(always)]
unsafe fn write_chunk<const SPLIT: bool>(sm: &Smem, pos: u32, v: &[[f32; 8]; 2], e: i32) {
    let mut hi = [[0u32; 4]; 2];
    let mut lo = [[0u32; 4]; 2];
    for part in 0..2 {
        for w in 0..4 {
            let (h, l) = split_pack(scale_pow2(v[part][2 * w], -e), scale_pow2(v[part][2 * w + 1], -e));
            hi[part][w] = h;
            lo[part][w] = l;
        }
    }
    // SAFETY: guaranteed by the caller.
    unsafe {
        device::st_shared_16b(sm.chunk(0, pos), hi[0]);
        device::st_shared_16b(sm.chunk(1, pos), hi[1]);
        if SPLIT {
            device::st_shared_16b(sm.chunk(2, pos), lo[0]);
            device::st_shared_16b(sm.chunk(3, pos), lo[1]);
        }
    }
}

/// Most chunks a thread keeps in registers between finding the pair's largest magnitude and
/// filling the planes (more are read twice); callers pass fewer where registers are scarce.
const HELD_CHUNKS: u32 = 4;

/// Most chunks whose loads are issued together when rows are read twice (callers pass fewer
/// where registers are scarce: each costs 16).
const LOAD_GROUP: usize = 4;

/// [`input_exponent`], then, without an outer step, [`fill_planes`]: from registers when the
/// slot's threads hold at most `held_max` (≤ [`HELD_CHUNKS`]) chunks each, so that the rows are
/// read once. With `by_len` (a constant at every call), only the chunks below `len` count (the rest of the planes is
/// zeroed): a causal row of `N/2` is then held where a full one would be read twice. (Without
/// it the choice is made at compile time: the backward kernels, whose registers rose by 30 with
/// both paths compiled.) Vector rows are read through predicated loads ([`pair_chunk_group`]).
/// Returns the exponent and whether the planes were filled.
///
/// With `zero_half` (a constant; `len ≤ N/2`, [`zero_half_skip`] sizes, whose stage 0 is radix 2
/// at stride `N/2`) the load also does stage 0: position `n < N/2` gets `x[n]/2` and `n + N/2`
/// gets `x[n]·W_N^n/2`. Each thread reads the input chunks of its lower-half positions (the same
/// chunks for a thread's upper-half ones: its own, or, with one chunk per thread, its partner's
/// half a slot away) and must hold them all (`held_max` at least half its chunks, or one). At
/// 16K, whose stage 0 is radix 4 at stride `N/4`, the rows are read twice instead
/// ([`fill_planes`] with `zero_half`).
///
/// # Safety
/// As [`fill_planes`].
#[inline(always)]
unsafe fn load_input<E: Element, const SPLIT: bool>(
    sm: &Smem,
    log2_n: u32,
    st: &SlotThreads,
    inp: &PairInput<E>,
    held_max: u32,
    by_len: bool,
    zero_half: bool,
    stage0: bool,
) -> (i32, bool) {
    let log2_inner = inner_log2(log2_n);
    let per_thread = (1u32 << (log2_inner - 3)) / st.count;
    let half_chunks = 1u32 << (log2_inner - 4);
    // The chunks this thread reads: its own, or with `zero_half` those of its lower-half
    // positions (all at `first + k·count`).
    let (first, own) = if zero_half {
        (st.index % half_chunks, if per_thread >= 2 { per_thread / 2 } else { 1 })
    } else {
        (st.index, per_thread)
    };
    let loaded = if by_len { inp.len.div_ceil(8).div_ceil(st.count).min(own) } else { own };
    if halves(log2_n) > 1 {
        // SAFETY: forwarded.
        return (unsafe { input_exponent(sm, st, inp, held_max, true) }, false);
    }
    let held_cap = held_max.min(HELD_CHUNKS);
    // The radix-4 zero half (16K) reads its rows twice: a thread's four lower-half chunks are two
    // radix-4 groups.
    let zero_half4 = zero_half && log2_inner % 4 == 2;
    if loaded > held_cap || stage0 || zero_half4 {
        // SAFETY: forwarded.
        let e = unsafe { input_exponent(sm, st, inp, held_max, false) };
        // SAFETY: forwarded.
        unsafe { fill_planes::<E, SPLIT>(sm, log2_n, 0, st, inp, e, stage0, zero_half4) };
        return (e, true);
    }
    // SAFETY: forwarded; past `loaded` the chunks start at or beyond `len`.
    let held = unsafe {
        let wanted = |k: u32| k < held_cap && k < loaded;
        pair_chunk_group::<E, { HELD_CHUNKS as usize }>(inp, first, st.count, wanted, held_cap.min(own))
    };
    let mut m = 0.0f32;
    for k in 0..HELD_CHUNKS {
        if k < held_cap {
            for part in 0..2 {
                for i in 0..8 {
                    m = m.max(held[k as usize][part][i].abs());
                }
            }
        }
    }
    // SAFETY: forwarded.
    let e = norm_exponent(unsafe { slot_max(sm, st, m) });
    let slot_base = st.slot << log2_inner;
    if !zero_half {
        for k in 0..per_thread {
            let v = if k < held_cap && k < loaded { held[k as usize] } else { [[0.0; 8]; 2] };
            // SAFETY: forwarded; the planes are free after the barriers of `slot_max`.
            unsafe { write_chunk::<SPLIT>(sm, slot_base + 8 * (st.index + k * st.count), &v, e) };
        }
        return (e, true);
    }
    // Stage 0 (its scale 1/2 in the exponent): each held chunk gives its own positions and,
    // twiddled, those half a slot on, written together so that the chunk dies after both (with
    // one chunk per thread, a thread writes only one of the two).
    let twiddled = |chunk: u32, mut v: [[f32; 8]; 2]| {
        for i in 0..8 {
            let w = outer_root::<SPLIT>(8 * chunk + i as u32, log2_inner);
            (v[0][i], v[1][i]) = cmul((v[0][i], v[1][i]), w);
        }
        v
    };
    for k in 0..own {
        let v = if k < held_cap && k < loaded { held[k as usize] } else { [[0.0; 8]; 2] };
        let chunk = first + k * st.count;
        // SAFETY: forwarded; the planes are free after the barriers of `slot_max`.
        unsafe {
            if per_thread >= 2 || st.index < half_chunks {
                write_chunk::<SPLIT>(sm, slot_base + 8 * chunk, &v, e + 1);
            }
            if per_thread >= 2 || st.index >= half_chunks {
                write_chunk::<SPLIT>(sm, slot_base + 8 * (chunk + half_chunks), &twiddled(chunk, v), e + 1);
            }
        }
    }
    (e, true)
}

/// Whether the stash keeps split precision: with `SPLIT` data and `L ≤ N/4`, only the first
/// `L ≤ N'/2` positions of the first half's result are needed, and their hi and lo parts fit
/// where the whole result fits as f16. (With longer outputs the kept part carries most of the
/// energy, and one f16 rounding of the stash stays well within the error bound.)
#[inline(always)]
fn stash_split<const SPLIT: bool>(log2_n: u32, len: u32) -> bool {
    SPLIT && (len as u64) * 4 <= 1u64 << log2_n
}

/// Where the outer step's recombination finds the two halves' results.
#[derive(Clone, Copy)]
enum StashAt {
    /// The first half's in the shared-memory stash (`split` as [`stash_split`]), the second's in
    /// the planes (one block transforms both halves in turn: the backward and `dk` kernels).
    Shared { split: bool },
    /// Half `h`'s in the planes of block `h` of the cluster (the forward, see
    /// `cluster_blocks`), read through distributed shared memory.
    Cluster,
}

/// Copies the slot's result (one transform of size `N'`) into the stash as f16, or, when
/// [`stash_split`], its first `N'/2` positions as hi and lo f16. Slot 0 only (the outer step
/// exists only with one slot per block).
///
/// # Safety
/// After the inverse transform and a barrier; the stash is free.
#[inline(always)]
unsafe fn stash_result<const SPLIT: bool>(sm: &Smem, log2_inner: u32, st: &SlotThreads, split: bool) {
    let chunks = 1u32 << (log2_inner - if split { 4 } else { 3 });
    let mut c = st.index;
    while c < chunks {
        for part in 0..2u32 {
            // SAFETY: forwarded.
            let v = unsafe { read_chunk::<SPLIT>(sm, 8 * c, part) };
            let mut hi = [0u32; 4];
            let mut lo = [0u32; 4];
            for i in 0..4 {
                (hi[i], lo[i]) = split_pack(v[2 * i], v[2 * i + 1]);
            }
            // SAFETY: chunks of the stash.
            unsafe {
                device::st_shared_16b(sm.stash_chunk(log2_inner, part, 8 * c, split), hi);
                if split {
                    device::st_shared_16b(sm.stash_chunk(log2_inner, 2 + part, 8 * c, split), lo);
                }
            }
        }
        c += st.count;
    }
}

/// The outer step's recombination at chunk `c` (positions `8c..`, `c < N'/8`, and `c < N'/16`
/// when the stash is `split`): the first half's result `a` and the second half's result `b` give
/// `(a + W_N^{−n} b, a − W_N^{−n} b)` for positions `n` and `n + N'`, as (real, imaginary)
/// parts of each; only the `wanted` ones (the others zero).
///
/// # Safety
/// After the second half's inverse transform and a barrier (a cluster barrier for
/// [`StashAt::Cluster`], and another before either block exits).
#[inline(always)]
unsafe fn combine_chunk<const SPLIT: bool>(
    sm: &Smem,
    log2_n: u32,
    c: u32,
    at: StashAt,
    wanted: [bool; 2],
) -> [[[f32; 8]; 2]; 2] {
    let log2_inner = inner_log2(log2_n);
    let mut out = [[[0.0f32; 8]; 2]; 2];
    // SAFETY: chunks of the planes and the stash, or of the cluster's blocks' planes.
    let (a, b) = unsafe {
        match at {
            StashAt::Shared { split } => {
                let mut a = [[0.0f32; 8]; 2];
                for part in 0..2u32 {
                    let hi = device::ld_shared_16b(sm.stash_chunk(log2_inner, part, 8 * c, split));
                    let lo = if split {
                        device::ld_shared_16b(sm.stash_chunk(log2_inner, 2 + part, 8 * c, split))
                    } else {
                        [0; 4]
                    };
                    a[part as usize] = unpack_chunk(hi, split.then_some(lo));
                }
                (a, [read_chunk::<SPLIT>(sm, 8 * c, 0), read_chunk::<SPLIT>(sm, 8 * c, 1)])
            }
            StashAt::Cluster => (
                [read_cluster_chunk::<SPLIT>(sm, 8 * c, 0, 0), read_cluster_chunk::<SPLIT>(sm, 8 * c, 1, 0)],
                [read_cluster_chunk::<SPLIT>(sm, 8 * c, 0, 1), read_cluster_chunk::<SPLIT>(sm, 8 * c, 1, 1)],
            ),
        }
    };
    for i in 0..8 {
        let (cs, sn) = outer_root::<SPLIT>(8 * c + i as u32, log2_n);
        let t = cmul((b[0][i], b[1][i]), (cs, -sn));
        if wanted[0] {
            out[0][0][i] = a[0][i] + t.0;
            out[0][1][i] = a[1][i] + t.1;
        }
        if wanted[1] {
            out[1][0][i] = a[0][i] - t.0;
            out[1][1][i] = a[1][i] - t.1;
        }
    }
    out
}

/// 8 f16 values (`hi`) plus, when given, their low parts (stored times `2^LO_SHIFT`), in f32.
#[inline(always)]
fn unpack_chunk(hi: [u32; 4], lo: Option<[u32; 4]>) -> [f32; 8] {
    let mut v = [0.0f32; 8];
    for w in 0..4 {
        v[2 * w] = device::f16_to_f32(hi[w] as u16);
        v[2 * w + 1] = device::f16_to_f32((hi[w] >> 16) as u16);
    }
    if let Some(lo) = lo {
        let down = pow2(-LO_SHIFT);
        for w in 0..4 {
            v[2 * w] = fmaf32(device::f16_to_f32(lo[w] as u16), down, v[2 * w]);
            v[2 * w + 1] = fmaf32(device::f16_to_f32((lo[w] >> 16) as u16), down, v[2 * w + 1]);
        }
    }
    v
}

/// The slot's result chunk `c` (8 positions) of plane pair `(part, part + 2)` in f32.
///
/// # Safety
/// Between barriers, after the inverse transform.
#[inline(always)]
unsafe fn read_chunk<const SPLIT: bool>(sm: &Smem, pos: u32, part: u32) -> [f32; 8] {
    // SAFETY: chunks of this block's planes.
    unsafe {
        let hi = device::ld_shared_16b(sm.chunk(part, pos));
        let lo = if SPLIT { Some(device::ld_shared_16b(sm.chunk(part + 2, pos))) } else { None };
        unpack_chunk(hi, lo)
    }
}

/// As [`read_chunk`], from the planes of block `rank` of the cluster.
///
/// # Safety
/// As [`read_chunk`], after a cluster barrier, and with another before either block exits.
#[inline(always)]
unsafe fn read_cluster_chunk<const SPLIT: bool>(sm: &Smem, pos: u32, part: u32, rank: u32) -> [f32; 8] {
    // SAFETY: chunks of the planes, which every block of the cluster has at the same addresses.
    unsafe {
        let hi = device::ld_cluster_shared_16b(sm.chunk(part, pos), rank);
        let lo = if SPLIT { Some(device::ld_cluster_shared_16b(sm.chunk(part + 2, pos), rank)) } else { None };
        unpack_chunk(hi, lo)
    }
}

/// Writes `v` (8 values of chunk `chunk` of the row at `row`) to `out` after multiplying by
/// `mul` (if not null), only positions below `len`.
///
/// # Safety
/// `out` (and `mul`) hold the row; `vector` as in [`load_chunk`].
#[inline(always)]
unsafe fn store_chunk<E: Element<Acc = f32>>(
    out: *mut E,
    mul: *const E,
    row: u64,
    chunk: u32,
    len: u32,
    vector: bool,
    mut v: [f32; 8],
) {
    let start = chunk * 8;
    // SAFETY: guaranteed by the caller; indices below `len`.
    unsafe {
        let at = (row + start as u64) as usize;
        if vector {
            if !mul.is_null() {
                let m = E::load8(mul.add(at));
                for e in 0..8 {
                    v[e] *= m[e];
                }
            }
            E::store8(out.add(at), v);
        } else {
            for e in 0..8u32 {
                if start + e < len {
                    let mut y = v[e as usize];
                    if !mul.is_null() {
                        y *= E::load(mul.add(at + e as usize));
                    }
                    E::store(out.add(at + e as usize), y);
                }
            }
        }
    }
}

/// Writes this slot's transformed pair: `outs[i][row] = 2^scale_log2 · result · muls[i][row]`
/// for the first row (real part) and the second (imaginary part), positions `< len`; with an
/// outer step, the recombination of the two halves (by the blocks of the cluster).
///
/// # Safety
/// After the (last) inverse transform and a barrier; the buffers hold the rows.
#[inline(always)]
unsafe fn store_pair<E: Element<Acc = f32>, const SPLIT: bool, const OUTS: usize>(
    sm: &Smem,
    log2_n: u32,
    st: &SlotThreads,
    rows: Rows,
    outs: [(*mut E, *const E); OUTS],
    scale_log2: i32,
    len: u32,
    vector: bool,
    stash: StashAt,
    zero_half: bool,
    stage0: bool,
) {
    let log2_inner = inner_log2(log2_n);
    let inner_chunks = 1u32 << (log2_inner - 3);
    // With `zero_half` the store does the last inverse stage's kept half: (y[n] + y[n + N/2])/2;
    // with `stage0` both halves, (y[n] ± y[n + N/2])/2.
    let scale_log2 = scale_log2 - (zero_half || stage0) as i32;
    let write = |chunk: u32, part: usize, v: &[f32; 8]| {
        let row = if part == 0 { Some(rows.first) } else { rows.second };
        if let Some(row) = row {
            let mut y = [0.0f32; 8];
            for e in 0..8 {
                y[e] = scale_pow2(v[e], scale_log2);
            }
            for i in 0..OUTS {
                let (out, mul) = outs[i];
                if !out.is_null() {
                    // SAFETY: forwarded.
                    unsafe { store_chunk(out, mul, row, chunk, len, vector, y) };
                }
            }
        }
    };
    let mut c = st.index;
    if stage0 {
        let half_chunks = inner_chunks / 2;
        // Each output half reads both chunks again (from shared memory), so that only one
        // output chunk is live at a time.
        for h in 0..2u32 {
            let mut c = st.index;
            while c < half_chunks && 8 * (c + h * half_chunks) < len {
                for part in 0..2 {
                    let pos = (st.slot << log2_inner) + 8 * c;
                    // SAFETY: forwarded.
                    let mut a = unsafe { read_chunk::<SPLIT>(sm, pos, part as u32) };
                    // SAFETY: forwarded.
                    let b = unsafe { read_chunk::<SPLIT>(sm, pos + 8 * half_chunks, part as u32) };
                    for i in 0..8 {
                        a[i] = if h == 0 { a[i] + b[i] } else { a[i] - b[i] };
                    }
                    write(c + h * half_chunks, part, &a);
                }
                c += st.count;
            }
        }
    } else if zero_half && log2_inner % 4 == 2 {
        // The last inverse stage (radix 4 at stride N/4) at its kept outputs `y₀ = Σ X_f` and
        // `y₁ = X₀ − X₂ + i·(X₁ − X₃)` (`len ≤ N/2`: output chunk `c` is `y_{c / quarter}`).
        let quarter = inner_chunks / 4;
        while c < len.div_ceil(8) {
            let (k, c0) = (c / quarter, c % quarter);
            let base = (st.slot << log2_inner) + 8 * c0;
            // SAFETY: forwarded (chunks of the slot).
            let at = |f: u32, part: u32| unsafe { read_chunk::<SPLIT>(sm, base + 8 * f * quarter, part) };
            for part in 0..2u32 {
                // y₀: X₀ + X₁ + X₂ + X₃ of this part; y₁: X₀ − X₂ of this part and ±(X₁ − X₃) of
                // the other (real part −Im(X₁ − X₃), imaginary part Re(X₁ − X₃)). One input chunk
                // at a time.
                let (other, s1) = if k == 0 { (part, 1.0) } else { (1 - part, if part == 0 { -1.0 } else { 1.0 }) };
                let s2 = if k == 0 { 1.0 } else { -1.0 };
                let mut v = at(0, part);
                let x = at(2, part);
                for i in 0..8 {
                    v[i] = fmaf32(s2, x[i], v[i]);
                }
                let x = at(1, other);
                for i in 0..8 {
                    v[i] = fmaf32(s1, x[i], v[i]);
                }
                let x = at(3, other);
                for i in 0..8 {
                    v[i] = fmaf32(s1 * s2, x[i], v[i]);
                }
                write(c, part as usize, &v);
            }
            c += st.count;
        }
    } else if halves(log2_n) == 1 {
        while c < len.div_ceil(8) {
            for part in 0..2 {
                let pos = (st.slot << log2_inner) + 8 * c;
                // SAFETY: forwarded.
                let mut v = unsafe { read_chunk::<SPLIT>(sm, pos, part as u32) };
                if zero_half {
                    // SAFETY: forwarded (`len ≤ N/2`: the chunk is in the slot's upper half).
                    let w = unsafe { read_chunk::<SPLIT>(sm, pos + (1 << (log2_inner - 1)), part as u32) };
                    for i in 0..8 {
                        v[i] += w[i];
                    }
                }
                write(c, part, &v);
            }
            c += st.count;
        }
    } else {
        // The blocks of the cluster (the only case with an outer step here) take alternate runs
        // of `count` chunks; positions `n < N'` first, then `n + N'`, so that only one output
        // chunk per part is live at a time.
        for h in 0..2u32 {
            let mut c = st.index + st.count * device::cluster_rank();
            while c < inner_chunks && 8 * (c + h * inner_chunks) < len {
                // SAFETY: forwarded.
                let v = unsafe { combine_chunk::<SPLIT>(sm, log2_n, c, stash, [h == 0, h == 1]) };
                for part in 0..2 {
                    write(c + h * inner_chunks, part, &v[h as usize][part]);
                }
                c += 2 * st.count;
            }
        }
    }
}

/// The four complex f32 values of `spectrum` (interleaved) at this lane's entries of tile
/// `local`.
///
/// # Safety
/// `spectrum` holds `N` complex values, 32-byte aligned.
#[inline(always)]
unsafe fn load_spectrum4(spectrum: *const f32, local: u32) -> [(f32, f32); 4] {
    let at = 2 * spectrum_index(local, lane(), 0) as usize;
    // SAFETY: guaranteed by the caller.
    let (a, b) = unsafe {
        (device::load_16b(spectrum.add(at) as *const u8), device::load_16b(spectrum.add(at + 4) as *const u8))
    };
    [
        (f32::from_bits(a[0]), f32::from_bits(a[1])),
        (f32::from_bits(a[2]), f32::from_bits(a[3])),
        (f32::from_bits(b[0]), f32::from_bits(b[1])),
        (f32::from_bits(b[2]), f32::from_bits(b[3])),
    ]
}

/// Prefetches into L1 the line of the values [`load_spectrum4`] reads for `tile` of `half` (a
/// hint; no fault on any address).
#[inline(always)]
fn prefetch_spectrum4(spectrum: *const f32, half: u32, log2_inner: u32, tile: u32) {
    let at = 2 * ((half << log2_inner) + spectrum_index(tile, lane(), 0)) as usize;
    device::prefetch_l1(spectrum.wrapping_add(at) as *const u8);
}

/// Word `slot` of per-slot area `area` (1: first input's exponent, 2: second input's exponent,
/// 3: an order-independent maximum, or a block's input maximum for its cluster) in the reduction
/// area; area 0 holds per-warp maxima.
#[inline(always)]
fn slot_word(sm: &Smem, area: u32, slot: u32) -> u32 {
    sm.reduce + 4 * (8 * area + slot)
}

/// The forward's area of the reduction words for each slot's head (area 0 holds per-warp maxima,
/// 3 the cluster's exchange word; the forward uses neither 1 nor 2 otherwise).
const AREA_HEAD: u32 = 2;

/// Publishes this slot's `value` in `area` (one thread per slot writes).
///
/// # Safety
/// Read only after a barrier.
#[inline(always)]
unsafe fn publish(sm: &Smem, st: &SlotThreads, area: u32, value: i32) {
    if st.index == 0 {
        // SAFETY: a word of the reduction area.
        unsafe { device::st_shared_f32(slot_word(sm, area, st.slot), f32::from_bits(value as u32)) };
    }
}

/// The value [`publish`]ed for `slot` in `area`.
///
/// # Safety
/// After the barrier that follows the publication.
#[inline(always)]
unsafe fn published(sm: &Smem, area: u32, slot: u32) -> i32 {
    // SAFETY: a word of the reduction area.
    unsafe { device::ld_shared_f32(slot_word(sm, area, slot)) }.to_bits() as i32
}

/// log2 of a power of two.
#[inline(always)]
fn log2_pow2(x: f32) -> i32 {
    ((x.to_bits() >> 23) & 0xff) as i32 - 127
}

/// Prefetches into L1 what the last forward stage's epilogue will read from global memory for
/// this lane's tiles: `at(slot, local)` gives the address for a tile (or none). Issued before
/// the transform, the loads then hit L1 instead of waiting on L2 at the end of it.
#[inline(always)]
fn prefetch_tiles<A: FnMut(u32, u32) -> Option<*const u8>>(log2_inner: u32, mut at: A) {
    let log2_tiles = log2_inner - 7;
    let total = pairs_per_block(log2_inner) << log2_tiles;
    let mut tau = thread_x() >> 5;
    while tau < total {
        if let Some(p) = at(tau >> log2_tiles, tau & ((1 << log2_tiles) - 1)) {
            device::prefetch_l1(p);
        }
        tau += WARPS;
    }
}

/// Kernel spectrum and scale of head `h` in a prepared buffer.
///
/// # Safety
/// `prepared` holds `prepared_len(heads, N)` f32 and `h < heads`.
#[inline(always)]
unsafe fn head_spectrum(prepared: *const f32, heads: u32, log2_n: u32, h: u32) -> (*const f32, f32) {
    let n2 = 2u64 << log2_n;
    // SAFETY: guaranteed by the caller.
    unsafe { (prepared.add((h as u64 * n2) as usize), *prepared.add((heads as u64 * n2 + h as u64) as usize)) }
}

/// `v · k` (or `v · conj(k)`) with `v` scaled by `sigma`.
#[inline(always)]
fn times_kernel<const CONJ: bool>(v: (f32, f32), sigma: f32, k: (f32, f32)) -> (f32, f32) {
    cmul((v.0 * sigma, v.1 * sigma), if CONJ { (k.0, -k.1) } else { k })
}

/// Prepare: `k (H, Lk)` → the kernel spectrum in the kernels' order plus per-head scales.
/// Slot `s` of block `b` transforms head `b · slots + s` (as the real part; imaginary zero),
/// with split precision where `SPLIT`.
///
/// # Safety
/// `k` holds `H · Lk` f32, `prepared` `prepared_len(H, N)` f32; grid `⌈H / slots⌉`, block
/// `THREADS`, shared memory `shared_bytes(LOG2_N, SPLIT)`.
#[inline(always)]
pub unsafe fn prepare<const LOG2_N: u32, const SPLIT: bool>(k: *const f32, prepared: *mut f32, p: FftConvParams) {
    let sm = Smem::new(LOG2_N, SPLIT);
    let st = SlotThreads::new(LOG2_N);
    let log2_inner = inner_log2(LOG2_N);
    let pair = const { pair_last_stages(LOG2_N, false, shared_bytes(LOG2_N, SPLIT), false) };
    let slots = pairs_per_block(LOG2_N);
    let first_head = block_x() as u32 * slots;
    let h = first_head + st.slot;
    let lk = p.kernel_len;
    let rows = if h < p.heads { Some(Rows { first: h as u64 * lk as u64, second: None }) } else { None };
    // SAFETY: the head's row of `k` has `Lk` values (f32 rows take the scalar path).
    let inp = PairInput { rows, x: k, gate: core::ptr::null(), len: lk, vector: false };
    let ek = unsafe { input_exponent::<f32>(&sm, &st, &inp, 1, false) };
    // SAFETY: words of the reduction area; the transform's first barrier orders them.
    unsafe {
        publish(&sm, &st, 1, ek);
        device::st_shared_f32(slot_word(&sm, 3, st.slot), 0.0);
    }
    let (dft16, dft_first) = (Dft::new(4), Dft::new(log2_inner % 4));
    for half in 0..halves(LOG2_N) {
        sync_threads();
        // SAFETY: the planes are free (barrier above); the rows lie in `k`.
        unsafe {
            fill_planes::<f32, SPLIT>(&sm, LOG2_N, half, &st, &inp, ek, false, false);
            forward_fft::<SPLIT, _>(&sm, log2_inner, &dft16, &dft_first, 0, pair, |tile, re, im| {
                let head = first_head + tile.slot;
                if head < p.heads {
                    // Undo the input normalisation and the stage scales: the exact spectrum.
                    let e = published(&sm, 1, tile.slot) - transform_scale_log2(log2_inner);
                    let mut w = [0u32; 8];
                    let mut m = 0.0f32;
                    for i in 0..4 {
                        let (a, b) = (scale_pow2(re[i], e), scale_pow2(im[i], e));
                        m = m.max(a.abs()).max(b.abs());
                        w[2 * i] = a.to_bits();
                        w[2 * i + 1] = b.to_bits();
                    }
                    device::atomic_max_shared_u32(slot_word(&sm, 3, tile.slot), m.to_bits());
                    let index = (half << log2_inner) + spectrum_index(tile.local, lane(), 0);
                    let at = (head as u64 * (2u64 << LOG2_N)) as usize + 2 * index as usize;
                    device::store_16b(prepared.add(at) as *mut u8, [w[0], w[1], w[2], w[3]]);
                    device::store_16b(prepared.add(at + 4) as *mut u8, [w[4], w[5], w[6], w[7]]);
                }
            })
        };
    }
    sync_threads();
    if h < p.heads && st.index == 0 {
        // SAFETY: the maximum is complete after the barrier; the scales follow the spectra.
        unsafe {
            let m = device::ld_shared_f32(slot_word(&sm, 3, st.slot));
            *prepared.add((p.heads as u64 * (2u64 << LOG2_N) + h as u64) as usize) = pow2(-norm_exponent(m));
        }
    }
}

/// One convolution pass of a row pair normalised by `2^−e` (see [`load_input`]; `prefilled`:
/// the first half's planes are already filled): for each half (one without an outer step),
/// fill the planes, `prefetch` (for the half) what `spectrum` will read, transform, hand the
/// spectrum to `spectrum` (which multiplies it by
/// the kernel spectrum, and may save or use it), invert; the first of two halves is stashed
/// (with [`StashAt::Cluster`] each block of the cluster does its own half only, and the output
/// sits between two cluster barriers), and `output` then writes the (recombined) result. The transforms start (and the inverse
/// stops) at stage `first_stage` (1 when the load and the store do stage 0: the zero-half forwards).
///
/// Every caller now transforms one half (the 32K kernels are clustered), so the stash branch
/// is never taken. It stays on purpose: with the loop and the branch removed, LLVM hoisted an
/// address out of the unsplit 8K backward's pair loop, and at that kernel's 128-register bound
/// the backward ran 8–9 % slower (same-call A/B, H100, 2026-11-27; perf-notes v12).
///
/// # Safety
/// As [`fill_planes`], [`forward_fft`]; `spectrum` and `output` are the caller's.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn conv_pass<
    E: Element,
    const SPLIT: bool,
    P: FnMut(u32),
    S: FnMut(u32, &Tile, &mut [f32; 4], &mut [f32; 4]),
    O: FnOnce(),
>(
    sm: &Smem,
    log2_n: u32,
    st: &SlotThreads,
    inp: &PairInput<E>,
    (e, prefilled): (i32, bool),
    invert: bool,
    stash: StashAt,
    dfts: (&Dft, &Dft),
    first_stage: u32,
    pair: bool,
    mut prefetch: P,
    mut spectrum: S,
    output: O,
) {
    let log2_inner = inner_log2(log2_n);
    // A cluster's block transforms only its own half.
    let (first_half, end_half) = match stash {
        StashAt::Cluster => (device::cluster_rank(), device::cluster_rank() + 1),
        StashAt::Shared { .. } => (0, halves(log2_n)),
    };
    for half in first_half..end_half {
        sync_threads();
        // SAFETY: forwarded; the planes are free after the barrier.
        unsafe {
            // (A load that does stage 0 always fills the planes itself.)
            if half > first_half || !prefilled {
                fill_planes::<E, SPLIT>(sm, log2_n, half, st, inp, e, false, false);
            }
            prefetch(half);
            forward_fft::<SPLIT, _>(sm, log2_inner, dfts.0, dfts.1, first_stage, pair, |tile, re, im| {
                spectrum(half, tile, re, im)
            });
            if invert {
                inverse_fft::<SPLIT>(sm, log2_inner, dfts.0, dfts.1, first_stage, pair);
                if half + 1 < end_half {
                    sync_threads();
                    if let StashAt::Shared { split } = stash {
                        stash_result::<SPLIT>(sm, log2_inner, st, split);
                    }
                }
            }
        }
    }
    if invert {
        // With a cluster, both halves' results are in their blocks' planes, and neither block
        // may exit while the other reads them. (`output` is called once: a second call site
        // kept LLVM from inlining it.)
        let cluster = matches!(stash, StashAt::Cluster);
        if cluster {
            device::sync_cluster();
        } else {
            sync_threads();
        }
        output();
        if cluster {
            device::sync_cluster();
        }
    }
}

/// Forward: `y = out_gate ⊙ conv(in_gate ⊙ u, k)[..L]`. Slot `s` of block `b` takes pair
/// `b · slots + s` (head-major: pairs of one head are consecutive, so they share the kernel
/// spectrum in L2); with an outer step, blocks `2q` and `2q + 1` (a cluster) take halves 0 and
/// 1 of pair `q`.
///
/// With `ZERO_HALF` (only at the `zero_half_skip` sizes, for `L ≤ N/2`) the load does stage 0
/// and the store the last inverse stage (see `FftConvKernel::ForwardZeroHalf`).
///
/// # Safety
/// Buffers as the host validated against `p` (gates null unless flagged; `L ≤ N/2` with
/// `ZERO_HALF`); grid `⌈H·⌈B/2⌉ / slots⌉ · cluster_blocks(LOG2_N)` in clusters of
/// that many blocks, block `THREADS`, shared memory `forward_shared_bytes(LOG2_N, SPLIT)`.
#[inline(always)]
pub unsafe fn forward<E: Element<Acc = f32>, const LOG2_N: u32, const SPLIT: bool, const ZERO_HALF: bool>(
    u: *const E,
    in_gate: *const E,
    out_gate: *const E,
    prepared: *const f32,
    y: *mut E,
    p: FftConvParams,
) {
    let clustered = cluster_blocks(LOG2_N) > 1;
    if clustered && device::cluster_size() != cluster_blocks(LOG2_N) {
        // Launched without the cluster its PTX requires: nothing can be computed (the outputs
        // stay as they are, which the tests see).
        return;
    }
    let sm = Smem::with_stash(LOG2_N, SPLIT, false);
    let st = SlotThreads::new(LOG2_N);
    let log2_inner = inner_log2(LOG2_N);
    let slots = pairs_per_block(LOG2_N) as u64;
    let pph = p.pairs_per_head() as u64;
    // The blocks of a cluster share their pair.
    let pair_block = block_x() / cluster_blocks(LOG2_N) as u64;
    let pair = pair_block * slots + st.slot as u64;
    let (h, j) = ((pair / pph) as u32, (pair % pph) as u32);
    // Each slot's head for the last forward stage's epilogue and its prefetch, which need it per
    // tile: in the unsplit kernels with several slots per block, read back after the load's
    // barriers instead of a division per tile (about 20 instructions each: 7 % of the causal 256
    // forward's, ncu 2026-11-29; −5 % on the bf16 forwards up to 1K, v20). Elsewhere recomputed
    // per tile: the block index and `pph` cost no register across the transform, a held head
    // would (kernels at their bound spilled 4–32 B for it), and the split kernels, at theirs,
    // spilled more with the shared-memory read and were not faster.
    let head_in_shared = !SPLIT && pairs_per_block(LOG2_N) > 1;
    let slot_head = |slot: u32| {
        if head_in_shared {
            // SAFETY: published below, read after the load's barriers.
            unsafe { published(&sm, AREA_HEAD, slot) as u32 }
        } else {
            ((pair_block * slots + slot as u64) / pph) as u32
        }
    };
    if head_in_shared {
        // SAFETY: a word of the reduction area, which the forward does not use otherwise.
        unsafe { publish(&sm, &st, AREA_HEAD, h as i32) };
    }
    let rows = if h < p.heads { Some(Rows::of(&p, h, j)) } else { None };
    let vector = p.flags & FLAG_VECTOR != 0;
    let stash = if clustered { StashAt::Cluster } else { StashAt::Shared { split: false } };
    let gate_in = if p.flags & FLAG_IN_GATE != 0 { in_gate } else { core::ptr::null() };
    let gate_out = if p.flags & FLAG_OUT_GATE != 0 { out_gate } else { core::ptr::null() };
    // SAFETY: the rows lie in `u`, the gates and `y`; every active slot's head spectrum is read.
    unsafe {
        let held = if SPLIT || LOG2_N >= 13 { 2 } else { HELD_CHUNKS };
        // `load_input` must hold every chunk it reads for the radix-2 zero half (N/16 chunks a
        // slot); the radix-4 one (16K) reads the rows twice.
        const {
            let count = THREADS / pairs_per_block(LOG2_N);
            assert!(!ZERO_HALF || zero_half_skip(LOG2_N) && (LOG2_N % 4 == 2 || (1 << (LOG2_N - 4)) / count <= 2));
            // The radix-4 zero half's groups are each one thread's (`fill_planes`).
            assert!(!ZERO_HALF || LOG2_N % 4 != 2 || (1 << (LOG2_N - 5)) % count == 0);
        }
        let inp = PairInput { rows, x: u, gate: gate_in, len: p.len, vector };
        // Without the zero half, the 8K forwards do their radix-2 stage 0 in the load and the
        // inverse's in the store too (one stage pass each way less). (Not at N = 512, whose
        // load holds its chunks: the fill would read the rows twice.)
        let stage0 = const { !ZERO_HALF && LOG2_N == 13 };
        let ez = load_input::<E, SPLIT>(&sm, LOG2_N, &st, &inp, held, !SPLIT || LOG2_N <= 13, ZERO_HALF, stage0);
        // The DFT fragments only after the load, so that they are not live next to its values.
        let dfts = (&Dft::new(4), &Dft::new(log2_inner % 4));
        conv_pass::<E, SPLIT, _, _, _>(
            &sm,
            LOG2_N,
            &st,
            &inp,
            ez,
            true,
            stash,
            dfts,
            (ZERO_HALF || stage0) as u32,
            const {
                pair_last_stages(
                    LOG2_N,
                    ZERO_HALF || LOG2_N == 13,
                    forward_shared_bytes(LOG2_N, SPLIT),
                    SPLIT && LOG2_N <= 11,
                )
            },
            |half| {
                // Split kernels sit at the register limit of two blocks per SM: no prefetch.
                if SPLIT {
                    return;
                }
                prefetch_tiles(log2_inner, |slot, local| {
                    let head = slot_head(slot);
                    (head < p.heads).then(|| {
                        let (spec, _) = head_spectrum(prepared, p.heads, LOG2_N, head);
                        let index = (half << log2_inner) + spectrum_index(local, lane(), 0);
                        spec.add(2 * index as usize) as *const u8
                    })
                })
            },
            |half, tile, re, im| {
                let head = slot_head(tile.slot);
                if head < p.heads {
                    let (spec, sigma) = head_spectrum(prepared, p.heads, LOG2_N, head);
                    let kv = load_spectrum4(spec.add((half << (log2_inner + 1)) as usize), tile.local);
                    for e in 0..4 {
                        (re[e], im[e]) = times_kernel::<false>((re[e], im[e]), sigma, kv[e]);
                    }
                }
            },
            || {
                if let Some(r) = rows {
                    let (_, sigma) = head_spectrum(prepared, p.heads, LOG2_N, h);
                    let e_out = ez.0 - 2 * transform_scale_log2(log2_inner) - LOG2_N as i32 - log2_pow2(sigma);
                    store_pair::<E, SPLIT, 1>(
                        &sm,
                        LOG2_N,
                        &st,
                        r,
                        [(y, gate_out)],
                        e_out,
                        p.len,
                        vector,
                        stash,
                        ZERO_HALF,
                        stage0,
                    );
                }
            },
        );
    }
}

/// Backward of [`forward`] for the pairs of one chunk of one head (block `h · chunks + c`):
/// `d_out_gate = dy ⊙ conv(z, k)`, `dz = corr(dv, k)` with `dv = out_gate ⊙ dy`,
/// `du = in_gate ⊙ dz`, `d_in_gate = u ⊙ dz`, and the block's partial `dk` spectrum
/// `Σ FFT(dv_pair) · conj(FFT(z_pair))` (whose inverse's real part is the pairs' `dk`).
///
/// Per pair: `z` is transformed and its spectrum kept (in shared memory where
/// [`backward_spectrum_on_chip`], else in the block's global scratch row); with an output gate,
/// `conv(z, k)` is inverted and written as `d_out_gate`; then `dv` is transformed, its product
/// with the saved spectrum is added to the block's partial `dk` spectrum (in shared memory
/// where [`backward_dk_on_chip`], written to the partial row once at the end; else the global
/// partial row itself), each entry always by the same thread, in pair order; and `dv · conj(k)`
/// is inverted into `du` and `d_in_gate`.
///
/// # Safety
/// Buffers as the host validated against `p`; the workspace holds the partial rows (zeroed)
/// and, unless the spectrum is on chip, the scratch rows; grid `chunks · H · cluster_blocks(LOG2_N)`
/// in clusters of that many blocks (block `2q + r` takes half `r` of chunk block `q`'s pairs),
/// block `THREADS`, shared memory `backward_shared_bytes(LOG2_N, SPLIT)`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub unsafe fn backward<E: Element<Acc = f32>, const LOG2_N: u32, const SPLIT: bool, const ZERO_HALF: bool>(
    u: *const E,
    in_gate: *const E,
    out_gate: *const E,
    dy: *const E,
    prepared: *const f32,
    du: *mut E,
    d_in_gate: *mut E,
    d_out_gate: *mut E,
    workspace: *mut u8,
    p: FftConvParams,
) {
    let clustered = cluster_blocks(LOG2_N) > 1;
    if clustered && device::cluster_size() != cluster_blocks(LOG2_N) {
        // Launched without the cluster its PTX requires: as in `forward`.
        return;
    }
    let sm = Smem::with_stash(LOG2_N, SPLIT, false);
    let st = SlotThreads::new(LOG2_N);
    let log2_inner = inner_log2(LOG2_N);
    let slots = pairs_per_block(LOG2_N);
    let chunks = p.chunks as u64;
    // The blocks of a cluster share their chunk (and take one half of each pair each).
    let chunk_block = block_x() / cluster_blocks(LOG2_N) as u64;
    let (h, c) = ((chunk_block / chunks) as u32, (chunk_block % chunks) as u32);
    let pph = p.pairs_per_head();
    let vector = p.flags & FLAG_VECTOR != 0;
    let has_in = p.flags & FLAG_IN_GATE != 0;
    let has_out = p.flags & FLAG_OUT_GATE != 0;
    let gate_in = if has_in { in_gate } else { core::ptr::null() };
    let gate_out = if has_out { out_gate } else { core::ptr::null() };
    let d_in = if has_in { d_in_gate } else { core::ptr::null_mut() };
    let d_out = if has_out { d_out_gate } else { core::ptr::null_mut() };
    // SAFETY: h < H by the grid.
    let (spec, sigma) = unsafe { head_spectrum(prepared, p.heads, LOG2_N, h) };
    let log2_sigma = log2_pow2(sigma);
    let e_transforms = 2 * transform_scale_log2(log2_inner) + LOG2_N as i32;
    // Partial and scratch rows of slot `s`: row `(c·H + h)·slots + s`, `N` entries each.
    let row_of = |s: u32| (c as u64 * p.heads as u64 + h as u64) * slots as u64 + s as u64;
    let scratch_base = backward_scratch_offset(chunks, p.heads as u64, LOG2_N);
    let partials = workspace as *mut f32;
    // SAFETY: the scratch rows follow the partials in the workspace.
    let scratch = unsafe { workspace.add(scratch_base as usize) };
    // Bytes of a scratch row's entry (complex f16 unsplit, f32 split), as the workspace is sized.
    let z_entry = backward_spectrum_entry_bytes(SPLIT) as usize;
    let dfts = (&Dft::new(4), &Dft::new(log2_inner % 4));
    let stash = if clustered { StashAt::Cluster } else { StashAt::Shared { split: false } };
    // Each `z` and `dk` entry, in shared memory or global, is written and read back by the same
    // thread (the tiles of the last forward stage go to warps in the same order every pass): no
    // barrier either way.
    // Evaluated at compile time: as a plain call, an earlier form of the function (with a 32K
    // clause) changed LLVM's code for most other kernels (the unsplit 8K backward ran 8–9 %
    // slower). The `dk` choice stays a plain call: made `const` too, it changed the 512–2K
    // backwards' PTX.
    let z_on_chip = const { backward_spectrum_on_chip(LOG2_N, SPLIT) };
    // As in `forward`: at 8K the loads do the radix-2 stage 0 and the stores the inverse's.
    let stage0 = const { LOG2_N == 13 };
    // With `ZERO_HALF` (`L ≤ N/2`, N = 512), as in `forward`: `u` and `dv` are zero in the upper
    // half, so the loads do the radix-2 stage 0 and the stores the inverse's kept half. The load
    // holds one chunk per thread, which must be all its lower-half chunks.
    const {
        let count = THREADS / pairs_per_block(LOG2_N);
        assert!(!ZERO_HALF || backward_zero_half_skip(LOG2_N) && LOG2_N % 4 == 1 && (1 << (LOG2_N - 4)) / count <= 1);
    }
    let first_stage = (ZERO_HALF || stage0) as u32;
    let pair = const {
        pair_last_stages(LOG2_N, ZERO_HALF || LOG2_N == 13, backward_shared_bytes(LOG2_N, SPLIT), SPLIT && LOG2_N <= 10)
    };
    let dk_on_chip = backward_dk_on_chip(LOG2_N, SPLIT);
    // The unsplit 8K backward's global partial row takes its sums in the L2 (`red.add`): no
    // load to wait on, and each entry still gets its adds from one thread, in pair order.
    // (At 16K and 32K, twice and four times the adds per pair, it was 2–4 % slower.)
    let red_dk = const { !SPLIT && LOG2_N == 13 };
    let (z_area, dk_area) = sm.backward_areas(LOG2_N, SPLIT);
    let log2_tiles = log2_inner - 7;
    let total_tiles = slots << log2_tiles;
    // Global entry of this lane's four values of `tile` of `half` in workspace row `row`
    // (complex units).
    let entry = |row: u64, half: u32, tile: u32| {
        (row << LOG2_N) as usize + ((half << log2_inner) + spectrum_index(tile, lane(), 0)) as usize
    };
    // The split 16K and 32K backwards (one block per SM, 8 warps) fetch the global rows of the
    // warp's tile `AHEAD` on (the next-but-one of `run_stage`, the next block's of
    // `run_stage_pair`) while this tile's epilogue waits on its own, one lane per 128-byte
    // line: −2 to −8 % (on-chip v25). The unsplit ones and the 4K/8K ones were slower with it
    // (their registers at the two-block bound).
    const AHEAD: u32 = 16;
    let ahead = |local: u32| (local + AHEAD < (1 << log2_tiles) && lane() % 4 == 0).then_some(local + AHEAD);
    if dk_on_chip {
        let mut tau = thread_x() >> 5;
        while tau < total_tiles {
            let at = area_f32(dk_area, LOG2_N, tau >> log2_tiles, tau & ((1 << log2_tiles) - 1));
            // SAFETY: this lane's words of the `dk` area.
            unsafe {
                device::st_shared_16b(at, [0; 4]);
                device::st_shared_16b(at + 512, [0; 4]);
            }
            tau += WARPS;
        }
    }
    let end = pph.min((c + 1) * p.pairs_per_chunk);
    let mut first = c * p.pairs_per_chunk;
    while first < end {
        let j = first + st.slot;
        let rows = if j < end { Some(Rows::of(&p, h, j)) } else { None };
        // SAFETY: the rows lie in the (B, H, L) buffers; the workspace rows and the shared
        // areas' entries are this block's, each this lane's.
        unsafe {
            let inp = PairInput { rows, x: u, gate: gate_in, len: p.len, vector };
            let ez = load_input::<E, SPLIT>(&sm, LOG2_N, &st, &inp, 1, false, ZERO_HALF, stage0);
            publish(&sm, &st, 1, ez.0);
            let want_v = !d_out.is_null();
            conv_pass::<E, SPLIT, _, _, _>(
                &sm,
                LOG2_N,
                &st,
                &inp,
                ez,
                want_v,
                stash,
                dfts,
                first_stage,
                pair,
                // No prefetch in the backward: it costs the registers of a second block per SM.
                |_| {},
                |half, tile, re, im| {
                    if first + tile.slot < end {
                        let w16: [u32; 4] = core::array::from_fn(|e| device::pack_f16x2(re[e], im[e]));
                        let w32 = [re[0], im[0], re[1], im[1], re[2], im[2], re[3], im[3]].map(f32::to_bits);
                        let (w32a, w32b) = ([w32[0], w32[1], w32[2], w32[3]], [w32[4], w32[5], w32[6], w32[7]]);
                        let at = entry(row_of(tile.slot), half, tile.local);
                        // (Both prefetches behind a constant: the other kernels' code stays as it was.)
                        if const { SPLIT && LOG2_N >= 14 } {
                            if let (true, Some(next)) = (want_v, ahead(tile.local)) {
                                prefetch_spectrum4(spec, half, log2_inner, next);
                            }
                        }
                        match (z_on_chip, SPLIT) {
                            (true, false) => {
                                device::st_shared_16b(area_f16(z_area, LOG2_N, tile.slot, tile.local), w16)
                            }
                            (true, true) => {
                                let a = area_f32(z_area, LOG2_N, tile.slot, tile.local);
                                device::st_shared_16b(a, w32a);
                                device::st_shared_16b(a + 512, w32b);
                            }
                            // The unsplit kernels' scratch row holds complex f16, as their
                            // planes and their on-chip `z` do: half the bytes of f32.
                            (false, false) => device::store_16b(scratch.add(z_entry * at), w16),
                            (false, true) => {
                                device::store_16b(scratch.add(z_entry * at), w32a);
                                device::store_16b(scratch.add(z_entry * at + 16), w32b);
                            }
                        }
                        if want_v {
                            let kv = load_spectrum4(spec.add((half << (log2_inner + 1)) as usize), tile.local);
                            for e in 0..4 {
                                (re[e], im[e]) = times_kernel::<false>((re[e], im[e]), sigma, kv[e]);
                            }
                        }
                    }
                },
                || {
                    if let Some(r) = rows {
                        let e_v = ez.0 - e_transforms - log2_sigma;
                        store_pair::<E, SPLIT, 1>(
                            &sm,
                            LOG2_N,
                            &st,
                            r,
                            [(d_out, dy)],
                            e_v,
                            p.len,
                            vector,
                            stash,
                            ZERO_HALF,
                            stage0,
                        );
                    }
                },
            );
            let inp_dv = PairInput { rows, x: dy, gate: gate_out, len: p.len, vector };
            let ed = load_input::<E, SPLIT>(&sm, LOG2_N, &st, &inp_dv, 1, false, ZERO_HALF, stage0);
            publish(&sm, &st, 2, ed.0);
            conv_pass::<E, SPLIT, _, _, _>(
                &sm,
                LOG2_N,
                &st,
                &inp_dv,
                ed,
                true,
                stash,
                dfts,
                first_stage,
                pair,
                |_| {},
                |half, tile, re, im| {
                    if first + tile.slot < end {
                        let at = entry(row_of(tile.slot), half, tile.local);
                        if const { SPLIT && LOG2_N >= 14 } {
                            if let Some(next) = ahead(tile.local) {
                                prefetch_spectrum4(spec, half, log2_inner, next);
                                let at_next = entry(row_of(tile.slot), half, next);
                                // (The partial and scratch rows are read through the L2 only.)
                                if !dk_on_chip {
                                    device::prefetch_l2(partials.add(2 * at_next) as *const u8);
                                }
                                if !z_on_chip {
                                    device::prefetch_l2(scratch.add(z_entry * at_next));
                                }
                            }
                        }
                        let from_f16 = |w: [u32; 4]| -> [(f32, f32); 4] {
                            w.map(|b| (device::f16_to_f32(b as u16), device::f16_to_f32((b >> 16) as u16)))
                        };
                        let from_f32 = |a: [u32; 4], b: [u32; 4]| -> [(f32, f32); 4] {
                            let w = [a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]];
                            core::array::from_fn(|e| (f32::from_bits(w[2 * e]), f32::from_bits(w[2 * e + 1])))
                        };
                        let z_of = match (z_on_chip, SPLIT) {
                            (true, false) => {
                                from_f16(device::ld_shared_16b(area_f16(z_area, LOG2_N, tile.slot, tile.local)))
                            }
                            (true, true) => {
                                let a = area_f32(z_area, LOG2_N, tile.slot, tile.local);
                                from_f32(device::ld_shared_16b(a), device::ld_shared_16b(a + 512))
                            }
                            // Through the L2 (`.cg`): this thread wrote the row in pass one.
                            (false, false) => from_f16(device::load_16b_coherent::<true>(scratch.add(z_entry * at))),
                            (false, true) => from_f32(
                                device::load_16b_coherent::<true>(scratch.add(z_entry * at)),
                                device::load_16b_coherent::<true>(scratch.add(z_entry * at + 16)),
                            ),
                        };
                        let e_s = published(&sm, 1, tile.slot) + published(&sm, 2, tile.slot)
                            - 2 * transform_scale_log2(log2_inner);
                        let pa = partials.add(2 * at) as *mut u8;
                        let dk_at = area_f32(dk_area, LOG2_N, tile.slot, tile.local);
                        let (s0, s1) = if dk_on_chip {
                            (device::ld_shared_16b(dk_at), device::ld_shared_16b(dk_at + 512))
                        } else if red_dk {
                            ([0; 4], [0; 4])
                        } else {
                            (device::load_16b_coherent::<true>(pa), device::load_16b_coherent::<true>(pa.add(16)))
                        };
                        let mut s = [s0[0], s0[1], s0[2], s0[3], s1[0], s1[1], s1[2], s1[3]];
                        let kv = load_spectrum4(spec.add((half << (log2_inner + 1)) as usize), tile.local);
                        for e in 0..4 {
                            let z = z_of[e];
                            let (a, b) = cmul((re[e], im[e]), (z.0, -z.1));
                            s[2 * e] = (f32::from_bits(s[2 * e]) + scale_pow2(a, e_s)).to_bits();
                            s[2 * e + 1] = (f32::from_bits(s[2 * e + 1]) + scale_pow2(b, e_s)).to_bits();
                            (re[e], im[e]) = times_kernel::<true>((re[e], im[e]), sigma, kv[e]);
                        }
                        let (s0, s1) = ([s[0], s[1], s[2], s[3]], [s[4], s[5], s[6], s[7]]);
                        if dk_on_chip {
                            device::st_shared_16b(dk_at, s0);
                            device::st_shared_16b(dk_at + 512, s1);
                        } else if red_dk {
                            device::red_add_16b_f32(pa, s0);
                            device::red_add_16b_f32(pa.add(16), s1);
                        } else {
                            device::store_16b(pa, s0);
                            device::store_16b(pa.add(16), s1);
                        }
                    }
                },
                || {
                    if let Some(r) = rows {
                        let e_dz = ed.0 - e_transforms - log2_sigma;
                        store_pair::<E, SPLIT, 2>(
                            &sm,
                            LOG2_N,
                            &st,
                            r,
                            [(du, gate_in), (d_in, u)],
                            e_dz,
                            p.len,
                            vector,
                            stash,
                            ZERO_HALF,
                            stage0,
                        );
                    }
                },
            );
        }
        first += slots;
    }
    if dk_on_chip {
        // The block's partial rows, once (every entry: slots without pairs give zeros).
        let mut tau = thread_x() >> 5;
        while tau < total_tiles {
            let (slot, local) = (tau >> log2_tiles, tau & ((1 << log2_tiles) - 1));
            let from = area_f32(dk_area, LOG2_N, slot, local);
            // SAFETY: this lane's words of the `dk` area and of the block's partial row.
            unsafe {
                let to = partials.add(2 * entry(row_of(slot), 0, local)) as *mut u8;
                device::store_16b(to, device::ld_shared_16b(from));
                device::store_16b(to.add(16), device::ld_shared_16b(from + 512));
            }
            tau += WARPS;
        }
    }
}

/// `dk (H, Lk)` from the backward's partial spectra: slot `s` of block `b` takes head
/// `b · slots + s`, sums its `chunks · slots` partial rows in order, inverts the sum and keeps
/// the real part.
///
/// # Safety
/// `workspace` as written by the backward with the same `p`; `dk` holds `H · Lk` f32; grid
/// `⌈H / slots⌉`, block `THREADS`, shared memory `shared_bytes(LOG2_N, SPLIT)`.
#[inline(always)]
pub unsafe fn kernel_grad<const LOG2_N: u32, const SPLIT: bool>(workspace: *const u8, dk: *mut f32, p: FftConvParams) {
    let sm = Smem::new(LOG2_N, SPLIT);
    let st = SlotThreads::new(LOG2_N);
    let log2_inner = inner_log2(LOG2_N);
    let pair = const { pair_last_stages(LOG2_N, false, shared_bytes(LOG2_N, SPLIT), false) };
    let slots = pairs_per_block(LOG2_N);
    let first_head = block_x() as u32 * slots;
    let partials = workspace as *const f32;
    let log2_tiles = log2_inner - 7;
    let g = stage(log2_inner, num_stages(log2_inner) - 1);
    // The sum of head `first_head + slot`'s partial rows at this lane's entries of a tile.
    let sum4 = |slot: u32, half: u32, local: u32| -> [(f32, f32); 4] {
        let h = (first_head + slot) as u64;
        let mut acc = [(0.0f32, 0.0f32); 4];
        for c in 0..p.chunks as u64 {
            for s in 0..slots as u64 {
                let row = (c * p.heads as u64 + h) * slots as u64 + s;
                let start = (row << (LOG2_N + 1)) as usize + (half << (log2_inner + 1)) as usize;
                // SAFETY: a row of the partials.
                let v = unsafe { load_spectrum4(partials.add(start), local) };
                for e in 0..4 {
                    acc[e].0 += v[e].0;
                    acc[e].1 += v[e].1;
                }
            }
        }
        acc
    };
    // SAFETY: a word of the reduction area, ordered by the barrier below.
    unsafe { device::st_shared_f32(slot_word(&sm, 3, st.slot), 0.0) };
    sync_threads();
    let total = slots << log2_tiles;
    for half in 0..halves(LOG2_N) {
        let mut tau = thread_x() >> 5;
        while tau < total {
            let (slot, local) = (tau >> log2_tiles, tau & ((1 << log2_tiles) - 1));
            if first_head + slot < p.heads {
                let v = sum4(slot, half, local);
                let mut m = 0.0f32;
                for e in 0..4 {
                    m = m.max(v[e].0.abs()).max(v[e].1.abs());
                }
                // SAFETY: a word of the reduction area.
                unsafe { device::atomic_max_shared_u32(slot_word(&sm, 3, slot), m.to_bits()) };
            }
            tau += WARPS;
        }
    }
    let dfts = (&Dft::new(4), &Dft::new(log2_inner % 4));
    for half in 0..halves(LOG2_N) {
        sync_threads();
        let mut tau = thread_x() >> 5;
        while tau < total {
            let (slot, local) = (tau >> log2_tiles, tau & ((1 << log2_tiles) - 1));
            let mut re = [0.0f32; 4];
            let mut im = [0.0f32; 4];
            if first_head + slot < p.heads {
                // SAFETY: the maximum is complete after the barriers.
                let es = norm_exponent(unsafe { device::ld_shared_f32(slot_word(&sm, 3, slot)) });
                let v = sum4(slot, half, local);
                for e in 0..4 {
                    re[e] = scale_pow2(v[e].0, -es);
                    im[e] = scale_pow2(v[e].1, -es);
                }
            }
            let (addr, _) = tile_address(&sm, log2_inner, g, slot, local);
            // SAFETY: the tile's chunks, as the first inverse stage will read them.
            unsafe { store_tile::<SPLIT>(&sm, g, addr, &re, &im) };
            tau += WARPS;
        }
        // SAFETY: the planes hold the spectra; `inverse_fft` starts with a barrier.
        unsafe { inverse_fft::<SPLIT>(&sm, log2_inner, dfts.0, dfts.1, 0, pair) };
        if half + 1 < halves(LOG2_N) {
            sync_threads();
            // SAFETY: after the inverse and a barrier.
            unsafe { stash_result::<SPLIT>(&sm, log2_inner, &st, stash_split::<SPLIT>(LOG2_N, p.kernel_len)) };
        }
    }
    sync_threads();
    let h = first_head + st.slot;
    if h < p.heads {
        // SAFETY: as above.
        let es = norm_exponent(unsafe { device::ld_shared_f32(slot_word(&sm, 3, st.slot)) });
        let e_out = es - transform_scale_log2(log2_inner) - LOG2_N as i32;
        let lk = p.kernel_len;
        let row = h as u64 * lk as u64;
        let write = |t: u32, v: f32| {
            if t < lk {
                // SAFETY: `dk` holds the head's row of `Lk` values.
                unsafe { *dk.add((row + t as u64) as usize) = scale_pow2(v, e_out) };
            }
        };
        let inner_chunks = 1u32 << (log2_inner - 3);
        let mut c = st.index;
        // With an outer step, chunk `c` also gives position `8c + N'`; past `Lk` nothing is read
        // (a split stash holds only positions below `N'/2 ≥ Lk`).
        while c < inner_chunks && 8 * c < lk {
            if halves(LOG2_N) == 1 {
                // SAFETY: a chunk of this slot's planes.
                let v = unsafe { read_chunk::<SPLIT>(&sm, (st.slot << log2_inner) + 8 * c, 0) };
                for e in 0..8u32 {
                    write(8 * c + e, v[e as usize]);
                }
            } else {
                // SAFETY: after the second half's inverse and the barrier.
                let v = unsafe {
                    combine_chunk::<SPLIT>(
                        &sm,
                        LOG2_N,
                        c,
                        StashAt::Shared { split: stash_split::<SPLIT>(LOG2_N, lk) },
                        [true, true],
                    )
                };
                for e in 0..8u32 {
                    write(8 * c + e, v[0][0][e as usize]);
                    write(8 * (c + inner_chunks) + e, v[1][0][e as usize]);
                }
            }
            c += st.count;
        }
    }
}
