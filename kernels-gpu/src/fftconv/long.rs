//! Long FFT sizes (`N` = 64K … 8M): the on-chip transform's decimation in frequency, split
//! into three passes through a global workspace of complex f32 (see the long-size section of
//! `flashfftconv_abi::fftconv`).
//!
//! With `N = N₁·N₂` and `n = n₁·N₂ + n₂`, the transform's first stages (the `N₁`-point outer
//! transform, stride `≥ N₂`) act on columns `n₂`, the rest (an `N₂`-point transform per row
//! of `N₂` contiguous values) on rows. Pass *in* holds `C` columns × `N₁` rows of one pair in
//! a block ("tile" geometry: position `p = n₁·C + c`), applies the outer stages and their
//! twiddles (taken in the full transform's geometry, so the rows need nothing more), and
//! writes the rows. Pass *mid* is the on-chip convolution of one row with the kernel
//! spectrum's matching row. Pass *out* undoes the outer stages on a tile and writes `y`.
//! Every pass normalises its block by a power of two from its largest magnitude and keeps f16
//! planes: split into hi + lo with `SPLIT` (as on chip), writing exact (unscaled) complex f32
//! rows; unsplit (bf16 data where `kernel_split` allows), writing the planes' f16 values as they
//! are with one power-of-two exponent per block (the *half* row format below: half the bytes,
//! nothing rounded that the planes had not). Spectra are complex f32 (*mid-prepare*, split
//! *mid-spectrum*) or, from the unsplit *mid-spectrum*, half rows in the spectrum's order with
//! one exponent per row (the f16 the planes would hold, as the on-chip unsplit backward keeps
//! them), which the unsplit products (the `dk` one included) read. The unsplit variants also
//! take the outer twiddles from the hardware approximations.
//!
//! Half row format: pair `q`'s row `j` (`N₂` values) starts where its f32 row would (byte
//! `8·(q·N + j·N₂)`) and holds complex f16 (4 bytes a value), so a row transformed in place into
//! its f32 spectrum covers only its own row. After the launch's `pairs` rows come
//! `long_exponent_words` i32 per pair: *in*'s exponent per column group, then *mid*'s per row
//! (a value is `f16 · 2^exponent`).

use super::*;
use flashfftconv_abi::fftconv::{
    long_column_groups, long_columns_log2, long_exponent_words, long_mid_shared_bytes, long_outer_log2, LongFftParams,
    LONG_INNER_LOG2, LONG_TILE_LOG2,
};

/// Chunks of 8 values in an *in*/*out* tile per thread.
const TILE_CHUNKS_PER_THREAD: u32 = (1 << LONG_TILE_LOG2) / 8 / THREADS;
/// Of those, the chunks in a tile's first half (`outer_stage0_log2_r` 1 pairs chunks `k` and
/// `k + TILE_HALF_CHUNKS_PER_THREAD`, half a tile apart).
const TILE_HALF_CHUNKS_PER_THREAD: u32 = TILE_CHUNKS_PER_THREAD / 2;

/// log2 of the radix of the outer transform's stage 0 where the *in*/*out* passes do it in
/// registers, else 0: radix 2 (stride `N₁/2` rows: half a tile, chunks `k` and
/// `k + TILE_HALF_CHUNKS_PER_THREAD` of a thread) at `N₁ = 32, 512` (N = 256K, 4M), radix 4
/// (stride a quarter tile: a thread's four chunks) at `N₁ = 64, 1024` (N = 512K, 8M).
#[inline(always)]
const fn outer_stage0_log2_r(log2_n: u32) -> u32 {
    let log2_outer = long_outer_log2(log2_n);
    if log2_outer > 4 && (log2_outer % 4 == 1 || log2_outer % 4 == 2) {
        log2_outer % 4
    } else {
        0
    }
}

// The radix-4 stage 0 takes a thread's four chunks (`radix4_in_planes`): they lie a quarter
// tile apart.
const _: () = assert!(TILE_CHUNKS_PER_THREAD == 4 && 8 * THREADS == 1 << (LONG_TILE_LOG2 - 2));

/// Chunks of 8 values in a *mid* row per thread.
const ROW_CHUNKS_PER_THREAD: u32 = (1 << LONG_INNER_LOG2) / 8 / THREADS;
/// Of those, the chunks in a row's first half (the row passes do the radix-2 stage 0
/// on chunk pairs `k`, `k + ROW_HALF_CHUNKS_PER_THREAD`, which are `N₂/16` apart).
const ROW_HALF_CHUNKS_PER_THREAD: u32 = ROW_CHUNKS_PER_THREAD / 2;

/// Outer stage `st` in the tile geometry (its stride `M` becomes `M·C`).
#[inline(always)]
fn outer_stage(log2_n: u32, st: u32) -> Stage {
    let g = stage(long_outer_log2(log2_n), st);
    Stage { log2_r: g.log2_r, log2_m: g.log2_m + long_columns_log2(log2_n) }
}

/// The twiddles of outer stage `st` in the full transform's geometry (stride `M·N₂`).
#[inline(always)]
fn outer_twiddles(log2_n: u32, st: u32) -> Twiddles {
    let g = stage(long_outer_log2(log2_n), st);
    Twiddles::of(Stage { log2_r: g.log2_r, log2_m: g.log2_m + LONG_INNER_LOG2 })
}

/// An outer twiddle (conjugated with `INV`) at full-transform position `pos`: accurate next to
/// split planes, from `sin/cos.approx` (2⁻²¹, below f16 data's 2⁻¹¹) next to single ones.
#[inline(always)]
fn outer_twiddle<const SPLIT: bool, const INV: bool>(tw: &Twiddles, pos: u32) -> (f32, f32) {
    if SPLIT {
        tw.at_accurate::<INV>(pos)
    } else {
        tw.at::<INV>(pos)
    }
}

/// The DFT matrix of an outer stage of radix `2^log2_r`: `dft16`, or a smaller one built into
/// `first` here, where that stage runs, so that it is not held across the other stages (with
/// that, the unsplit *out* at N₁ = 128 fits 80 registers without a spill).
#[inline(always)]
fn stage_dft<'a>(dft16: &'a Dft, first: &'a mut Option<Dft>, log2_r: u32) -> &'a Dft {
    if log2_r == 4 {
        dft16
    } else {
        first.insert(Dft::new(log2_r))
    }
}

/// Position in the full transform of tile position `p` of column group `group`.
#[inline(always)]
fn global_pos(log2_n: u32, group: u32, p: u32) -> u32 {
    let log2_c = long_columns_log2(log2_n);
    ((p >> log2_c) << LONG_INNER_LOG2) + (group << log2_c) + (p & ((1 << log2_c) - 1))
}

/// log2 of the product of the outer stages' scales.
#[inline(always)]
fn outer_scale_log2(log2_n: u32) -> i32 {
    transform_scale_log2(long_outer_log2(log2_n))
}

/// A block of an *in*/*out* pass: its workspace row, column group and (absent past the
/// heads) row pair.
struct TileBlock {
    /// Workspace row (pair − pair0).
    q: u64,
    group: u32,
    rows: Option<Rows>,
}

impl TileBlock {
    #[inline(always)]
    fn of(p: &LongFftParams, log2_n: u32) -> Self {
        let groups = long_column_groups(log2_n) as u64;
        let (q, group) = (block_x() / groups, (block_x() % groups) as u32);
        let pair = p.pair0 as u64 + q;
        let pph = p.pairs_per_head() as u64;
        let (h, j) = (pair / pph, (pair % pph) as u32);
        let rows = (h < p.heads as u64).then(|| Rows::new(p.batch, p.heads, p.len, h as u32, j));
        TileBlock { q, group, rows }
    }
}

/// The workspace row of pair `q` (`N` complex f32).
#[inline(always)]
fn workspace_row(z: *const f32, log2_n: u32, q: u64) -> *const f32 {
    z.wrapping_add((q * (2u64 << log2_n)) as usize)
}

/// Byte offset of position `g` of pair `q`'s row in the half format (see the module docs).
#[inline(always)]
fn half_offset(log2_n: u32, q: u64, g: u32) -> usize {
    let (row, col) = ((g >> LONG_INNER_LOG2) as u64, (g & ((1 << LONG_INNER_LOG2) - 1)) as u64);
    ((q << (log2_n + 3)) + (row << (LONG_INNER_LOG2 + 3)) + (col << 2)) as usize
}

/// Pair `q`'s exponents in the workspace region `z` of a launch of `pairs` pairs: *in*'s per
/// column group at `0 ..`, *mid*'s per row after them.
#[inline(always)]
fn exponents(z: *const f32, log2_n: u32, pairs: u32, q: u64) -> *mut i32 {
    let first = (z as *mut u8).wrapping_add(((pairs as u64) << (log2_n + 3)) as usize) as *mut i32;
    first.wrapping_add((q * long_exponent_words(log2_n) as u64) as usize)
}

/// The 32 bytes of 8 complex values of a half row at `at`.
///
/// # Safety
/// `at` is 16-byte aligned with 32 readable bytes.
#[inline(always)]
unsafe fn load_half8_bits(at: *const u8) -> [u32; 8] {
    // SAFETY: guaranteed by the caller.
    let (a, b) = unsafe { (device::load_16b_wide_l2(at), device::load_16b_wide_l2(at.add(16))) };
    [a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]]
}

/// 8 complex f16 values (`bits`, as stored in a half row) times `2^e`, as (real parts,
/// imaginary parts).
#[inline(always)]
fn half8_values(bits: &[u32; 8], e: i32) -> [[f32; 8]; 2] {
    let mut v = [[0.0f32; 8]; 2];
    for i in 0..8 {
        v[0][i] = scale_pow2(device::f16_to_f32(bits[i] as u16), e);
        v[1][i] = scale_pow2(device::f16_to_f32((bits[i] >> 16) as u16), e);
    }
    v
}

/// Stores the unsplit planes' chunk at `pos` (8 values, f16 bits as they are) as a half row's 8
/// complex values at `at`.
///
/// # Safety
/// Between barriers, after the planes' last write; `at` is 16-byte aligned with 32 writable
/// bytes.
#[inline(always)]
unsafe fn store_half8(at: *mut u8, sm: &Smem, pos: u32) {
    // SAFETY: a chunk of this block's planes (guaranteed by the caller).
    let (re, im) = unsafe { (device::ld_shared_16b(sm.chunk(0, pos)), device::ld_shared_16b(sm.chunk(1, pos))) };
    let mut w = [0u32; 8];
    for k in 0..4 {
        w[2 * k] = (re[k] & 0xffff) | (im[k] << 16);
        w[2 * k + 1] = (re[k] >> 16) | (im[k] & 0xffff_0000);
    }
    // SAFETY: guaranteed by the caller.
    unsafe {
        device::store_16b(at, [w[0], w[1], w[2], w[3]]);
        device::store_16b(at.add(16), [w[4], w[5], w[6], w[7]]);
    }
}

/// Stores 8 complex values as a half row's (complex f16) at `at`.
///
/// # Safety
/// `at` is 16-byte aligned with 32 writable bytes.
#[inline(always)]
unsafe fn store_half8_values(at: *mut u8, re: &[f32; 8], im: &[f32; 8]) {
    let mut w = [0u32; 8];
    for i in 0..8 {
        w[i] = device::pack_f16x2(re[i], im[i]);
    }
    // SAFETY: guaranteed by the caller.
    unsafe {
        device::store_16b(at, [w[0], w[1], w[2], w[3]]);
        device::store_16b(at.add(16), [w[4], w[5], w[6], w[7]]);
    }
}

/// Writes the planes' row result (chunks of this thread, `2^e_out` times the planes' values) to
/// the row at `row` (its f32 start): exact f32 with `SPLIT`, else a half row with the exponent
/// stored as *mid*'s of row `j` in `exps`. The planes hold the inverse transform up to its last
/// stage (radix 2 at stride `N₂/2`, whose twiddles are applied), done here: `(a + b)/2` and
/// `(a − b)/2` of the two halves' values (unsplit rounded to f16 as that stage would).
///
/// # Safety
/// All threads, between barriers after the inverse transform; `row` is row `j` of the pair
/// whose exponents are `exps`, which only this block writes.
#[inline(always)]
unsafe fn store_row_result<const SPLIT: bool>(
    sm: &Smem,
    st: &SlotThreads,
    row: *mut f32,
    exps: *mut i32,
    log2_n: u32,
    j: u32,
    e_out: i32,
) {
    let half = 1u32 << (LONG_INNER_LOG2 - 1);
    for k in 0..ROW_HALF_CHUNKS_PER_THREAD {
        let pos = 8 * (st.index + k * THREADS);
        // SAFETY: chunks of the planes after the barrier; 8 values of the row at `pos` and at
        // `pos + N₂/2`.
        unsafe {
            let (a, b) = (
                [read_chunk::<SPLIT>(sm, pos, 0), read_chunk::<SPLIT>(sm, pos, 1)],
                [read_chunk::<SPLIT>(sm, pos + half, 0), read_chunk::<SPLIT>(sm, pos + half, 1)],
            );
            let (mut sum, mut diff) = ([[0.0f32; 8]; 2], [[0.0f32; 8]; 2]);
            for part in 0..2 {
                for i in 0..8 {
                    sum[part][i] = 0.5 * (a[part][i] + b[part][i]);
                    diff[part][i] = 0.5 * (a[part][i] - b[part][i]);
                }
            }
            if SPLIT {
                store_complex8(row.add(2 * pos as usize), &sum[0], &sum[1], e_out);
                store_complex8(row.add(2 * (pos + half) as usize), &diff[0], &diff[1], e_out);
            } else {
                let at = (row as *mut u8).add(4 * pos as usize);
                store_half8_values(at, &sum[0], &sum[1]);
                store_half8_values(at.add(4 * half as usize), &diff[0], &diff[1]);
            }
        }
    }
    if !SPLIT && thread_x() == 0 {
        // SAFETY: row `j`'s exponent word of the pair.
        unsafe { *exps.add((long_column_groups(log2_n) + j) as usize) = e_out };
    }
}

/// 8 complex values from `at` (interleaved f32) as (real parts, imaginary parts).
///
/// # Safety
/// `at` is 16-byte aligned with 16 readable f32.
#[inline(always)]
unsafe fn load_complex8(at: *const f32) -> [[f32; 8]; 2] {
    let mut v = [[0.0f32; 8]; 2];
    for w in 0..4 {
        // SAFETY: guaranteed by the caller.
        let x = unsafe { device::load_16b(at.add(4 * w) as *const u8) };
        v[0][2 * w] = f32::from_bits(x[0]);
        v[1][2 * w] = f32::from_bits(x[1]);
        v[0][2 * w + 1] = f32::from_bits(x[2]);
        v[1][2 * w + 1] = f32::from_bits(x[3]);
    }
    v
}

/// Stores `2^e · (re, im)` as 8 interleaved complex f32 at `at`.
///
/// # Safety
/// `at` is 16-byte aligned with 16 writable f32.
#[inline(always)]
unsafe fn store_complex8(at: *mut f32, re: &[f32; 8], im: &[f32; 8], e: i32) {
    for w in 0..4 {
        let x = [
            scale_pow2(re[2 * w], e).to_bits(),
            scale_pow2(im[2 * w], e).to_bits(),
            scale_pow2(re[2 * w + 1], e).to_bits(),
            scale_pow2(im[2 * w + 1], e).to_bits(),
        ];
        // SAFETY: guaranteed by the caller.
        unsafe { device::store_16b(at.add(4 * w) as *mut u8, x) };
    }
}

/// [`long_mid`] modes.
pub const MID_CONV: u32 = 0;
/// See [`long_mid`].
pub const MID_PREPARE: u32 = 1;
/// See [`long_mid`].
pub const MID_SPECTRUM: u32 = 2;
/// See [`long_mid`].
pub const MID_SPECTRUM_CONV: u32 = 3;
/// See [`long_mid`].
pub const MID_GRAD: u32 = 4;

/// Stores a lane's four spectrum values `2^e · (re, im)` (32 contiguous bytes at `at`, in
/// [`spectrum_index`] order); returns their largest component magnitude.
///
/// # Safety
/// `at` is 16-byte aligned with 8 writable f32.
#[inline(always)]
unsafe fn store_spectrum4(at: *mut f32, re: &[f32; 4], im: &[f32; 4], e: i32) -> f32 {
    let mut w = [0u32; 8];
    let mut mx = 0.0f32;
    for i in 0..4 {
        let (a, b) = (scale_pow2(re[i], e), scale_pow2(im[i], e));
        mx = mx.max(a.abs()).max(b.abs());
        w[2 * i] = a.to_bits();
        w[2 * i + 1] = b.to_bits();
    }
    // SAFETY: guaranteed by the caller.
    unsafe {
        device::store_16b(at as *mut u8, [w[0], w[1], w[2], w[3]]);
        device::store_16b(at.add(4) as *mut u8, [w[4], w[5], w[6], w[7]]);
    }
    mx
}

/// Stores a lane's four spectrum values (the planes' scale) as complex f16, 16 contiguous bytes
/// at `at` in [`spectrum_index`] order: a half spectrum row, whose values are `f16 · 2^e` with
/// the row's exponent `e` stored as *mid*'s.
///
/// # Safety
/// `at` is 16-byte aligned with 16 writable bytes.
#[inline(always)]
unsafe fn store_spectrum4_half(at: *mut u8, re: &[f32; 4], im: &[f32; 4]) {
    let w = [
        device::pack_f16x2(re[0], im[0]),
        device::pack_f16x2(re[1], im[1]),
        device::pack_f16x2(re[2], im[2]),
        device::pack_f16x2(re[3], im[3]),
    ];
    // SAFETY: guaranteed by the caller.
    unsafe { device::store_16b(at, w) };
}

/// Stores a lane's four spectrum values of tile `local` (the planes' scale, times `2^e_row`)
/// into the spectrum row at `row`: exact f32 with `SPLIT`, else complex f16 as they are (a half
/// spectrum row, whose exponent `e_row` the caller stores).
///
/// # Safety
/// `row` is 16-byte aligned and holds the row's `N₂` spectrum values.
#[inline(always)]
unsafe fn store_spectrum_values<const SPLIT: bool>(
    row: *mut f32,
    local: u32,
    re: &[f32; 4],
    im: &[f32; 4],
    e_row: i32,
) {
    // SAFETY: a lane's values of the row (caller).
    unsafe {
        if SPLIT {
            store_spectrum4(row.add(2 * spectrum_index(local, lane(), 0) as usize), re, im, e_row);
        } else {
            store_spectrum4_half((row as *mut u8).add(4 * spectrum_index(local, lane(), 0) as usize), re, im);
        }
    }
}

/// A spectrum row of the backward: exact complex f32 with `SPLIT` (from *mid-spectrum*), else a
/// half spectrum row (complex f16 at the row's start), whose values are its units times `2^e`;
/// also the `dk` products [`MID_GRAD`] leaves (f32 or complex f16 units, times `2^e` from
/// the row's exponent word in both cases).
#[derive(Clone, Copy)]
struct SpectrumRow<const SPLIT: bool> {
    row: *const f32,
    e: i32,
}

impl<const SPLIT: bool> SpectrumRow<SPLIT> {
    /// Where row `j` of pair `q` starts in region `z` (`N` complex f32 per pair).
    #[inline(always)]
    fn start(z: *const f32, log2_n: u32, q: u64, j: u32) -> *const f32 {
        z.wrapping_add(((q << (log2_n + 1)) + ((j as u64) << (LONG_INNER_LOG2 + 1))) as usize)
    }

    /// The exponent word of row `j` of pair `q` (*mid*'s) in region `z` of `pairs` pairs.
    ///
    /// # Safety
    /// The word was written (by a *mid* pass of the same launch pairs).
    #[inline(always)]
    unsafe fn exponent(z: *const f32, log2_n: u32, pairs: u32, q: u64, j: u32) -> i32 {
        // SAFETY: guaranteed by the caller.
        unsafe { *exponents(z, log2_n, pairs, q).add((long_column_groups(log2_n) + j) as usize) }
    }

    /// The spectrum of row `j` of pair `q` in region `z` of a launch of `p.pairs` pairs (split:
    /// exact, `e = 0`).
    ///
    /// # Safety
    /// Unsplit, the region's exponent words are written (by *mid-spectrum*).
    #[inline(always)]
    unsafe fn spectrum(z: *const f32, p: &LongFftParams, q: u64, j: u32) -> Self {
        // SAFETY: guaranteed by the caller.
        let e = if SPLIT { 0 } else { unsafe { Self::exponent(z, p.log2_n, p.pairs, q, j) } };
        SpectrumRow { row: Self::start(z, p.log2_n, q, j), e }
    }

    /// A lane's four values of tile `local` ([`spectrum_index`] order), in the row's units (times
    /// `2^e` for the values).
    ///
    /// # Safety
    /// `local < N₂/128`.
    #[inline(always)]
    unsafe fn lane4(&self, local: u32) -> [(f32, f32); 4] {
        if SPLIT {
            // SAFETY: guaranteed by the caller.
            unsafe { load_spectrum4(self.row, local) }
        } else {
            let at = 4 * spectrum_index(local, lane(), 0) as usize;
            // SAFETY: guaranteed by the caller.
            let w = unsafe { device::load_16b((self.row as *const u8).add(at)) };
            let v = |x: u32| (device::f16_to_f32(x as u16), device::f16_to_f32((x >> 16) as u16));
            [v(w[0]), v(w[1]), v(w[2]), v(w[3])]
        }
    }
}

/// How pass *out* writes 8 values of a row: `y[row + 8·chunk + i] = v[i] · gate[…]` (no gate
/// if null) at positions below `len`; f32 rows (the backward's `dk`, summed over the launch
/// groups) are accumulated: `y[…] += v[i] · gate[…]`.
pub trait OutRow: Sized {
    /// # Safety
    /// As `store_chunk`: `y` (and `gate`) hold the row; `vector` as in `load_chunk`.
    unsafe fn store_row_chunk(
        y: *mut Self,
        gate: *const Self,
        row: u64,
        chunk: u32,
        len: u32,
        vector: bool,
        v: [f32; 8],
    );
}

macro_rules! out_row_16bit {
    ($($t:ty),*) => {$(
        impl OutRow for $t {
            #[inline(always)]
            unsafe fn store_row_chunk(y: *mut Self, gate: *const Self, row: u64, chunk: u32, len: u32, vector: bool, v: [f32; 8]) {
                // SAFETY: forwarded.
                unsafe { store_chunk::<$t>(y, gate, row, chunk, len, vector, v) }
            }
        }
    )*};
}
out_row_16bit!(crate::element::Bf16, crate::element::F16);

impl OutRow for f32 {
    #[inline(always)]
    unsafe fn store_row_chunk(
        y: *mut Self,
        gate: *const Self,
        row: u64,
        chunk: u32,
        len: u32,
        vector: bool,
        v: [f32; 8],
    ) {
        let start = chunk * 8;
        if vector && gate.is_null() {
            // FLAG_VECTOR: the row is 16-byte aligned and `len % 8 == 0`, so the chunk lies below
            // `len` whole (the caller skips chunks at or past it): two 16-byte read-add-writes.
            let at = y.wrapping_add((row + start as u64) as usize) as *mut u8;
            for half in 0..2 {
                // SAFETY: 16 bytes of the row below `len` (caller), read before written back by
                // this thread alone (coherent: not the read-only path).
                unsafe {
                    let p = at.add(16 * half);
                    let old = device::load_16b_coherent::<true>(p);
                    let new: [u32; 4] = core::array::from_fn(|i| (f32::from_bits(old[i]) + v[4 * half + i]).to_bits());
                    device::store_16b(p, new);
                }
            }
            return;
        }
        for (i, x) in v.iter().enumerate() {
            let pos = start + i as u32;
            if pos < len {
                let at = (row + pos as u64) as usize;
                // SAFETY: guaranteed by the caller; `pos < len`.
                unsafe { *y.add(at) += if gate.is_null() { *x } else { *x * *gate.add(at) } };
            }
        }
    }
}

/// Largest magnitude in `v`.
#[inline(always)]
fn max_abs(v: &[[f32; 8]; 2]) -> f32 {
    let mut m = 0.0f32;
    for part in v {
        for x in part {
            m = m.max(x.abs());
        }
    }
    m
}

/// Pass *in*: the outer forward stages of column group `group` of a pair's rows of
/// `gate ⊙ x` (zero past `len`), written to the pair's workspace row as exact complex f32.
///
/// # Safety
/// `x` (and `gate` if flagged) hold the `(B, H, len)` rows, `z` `p.pairs` rows of `N` complex
/// f32; grid `p.pairs · long_column_groups`, block `THREADS`, shared memory
/// `long_outer_shared_bytes(SPLIT)`.
#[inline(always)]
pub unsafe fn long_in<E: Element, const LOG2_N: u32, const SPLIT: bool>(
    x: *const E,
    gate: *const E,
    z: *mut f32,
    p: LongFftParams,
) {
    let sm = Smem::new(LONG_TILE_LOG2, SPLIT);
    let st = SlotThreads::new(LONG_TILE_LOG2);
    let blk = TileBlock::of(&p, LOG2_N);
    let gate = if p.flags & FLAG_IN_GATE != 0 { gate } else { core::ptr::null() };
    let inp = PairInput { rows: blk.rows, x, gate, len: p.len, vector: p.flags & FLAG_VECTOR != 0 };
    let load = |k: u32| {
        let pos = 8 * (st.index + k * THREADS);
        // SAFETY: the chunk lies in the pair's rows (positions past `len` are not read).
        unsafe { pair_chunk(&inp, global_pos(LOG2_N, blk.group, pos) >> 3) }
    };
    // Unsplit: every load issued before the first use, and the chunks held across the block's
    // maximum. Split: two reads (the second from L1 or L2), so that no chunk is held across the
    // maximum (as *out*, v21): 64 held values kept the split *in* at 96 registers, two blocks
    // per SM.
    let mut held = [[[0.0f32; 8]; 2]; TILE_CHUNKS_PER_THREAD as usize];
    if !SPLIT && inp.vector {
        for (k, v) in held.iter_mut().enumerate() {
            let pos = 8 * (st.index + k as u32 * THREADS);
            // SAFETY: as in `load`, with vector rows.
            *v = unsafe { pair_chunk_vector::<E, true>(&inp, global_pos(LOG2_N, blk.group, pos) >> 3) };
        }
    } else if !SPLIT {
        for (k, v) in held.iter_mut().enumerate() {
            *v = load(k as u32);
        }
    }
    let chunk = |k: u32| if SPLIT { load(k) } else { held[k as usize] };
    let mut m = 0.0f32;
    for k in 0..TILE_CHUNKS_PER_THREAD {
        m = m.max(max_abs(&chunk(k)));
    }
    // SAFETY: all threads; the reduction area.
    let e = norm_exponent(unsafe { slot_max(&sm, &st, m) });
    let stage0 = const { outer_stage0_log2_r(LOG2_N) };
    if stage0 == 2 {
        // Stage 0 here, radix 4: tile position `p + f·T/4` (`p` in the first quarter) gets
        // `Σ_k x[p + k·T/4]·W₄^{fk}` times the stage's twiddle there, over 2 (its scale, in the
        // exponent). This thread's chunk `k` is at `p + k·T/4`.
        // The chunks go to the planes first (so that the loads' registers are free) and the stage
        // runs there, half a chunk at a time.
        for k in 0..TILE_CHUNKS_PER_THREAD {
            // SAFETY: this thread's chunks of the free planes.
            unsafe { write_chunk::<SPLIT>(&sm, 8 * (st.index + k * THREADS), &chunk(k), e) };
        }
        let tw0 = outer_twiddles(LOG2_N, 0);
        let twiddle = |f: u32, i: u32| {
            let g = global_pos(LOG2_N, blk.group, 8 * (st.index + f * THREADS));
            Some(outer_twiddle::<SPLIT, false>(&tw0, g + i))
        };
        // SAFETY: the same chunks, this thread's only.
        unsafe { radix4_in_planes::<SPLIT, false, false>(&sm, 8 * st.index, 8 * THREADS, twiddle) };
    } else if stage0 == 1 {
        // Stage 0 here: tile position `p` gets `(x[p] + x[p + T/2])/2`, `p + T/2` gets
        // `(x[p] − x[p + T/2])·w/2` with the stage's twiddle `w` there (the 1/2 in the exponent).
        let tw0 = outer_twiddles(LOG2_N, 0);
        for k in 0..TILE_HALF_CHUNKS_PER_THREAD {
            let pos = 8 * (st.index + k * THREADS);
            let upper = pos + (1 << (LONG_TILE_LOG2 - 1));
            let (mut a, mut b) = (chunk(k), chunk(k + TILE_HALF_CHUNKS_PER_THREAD));
            butterfly(&mut a, &mut b);
            // SAFETY: this thread's chunks of the free planes.
            unsafe { write_chunk::<SPLIT>(&sm, pos, &a, e + 1) };
            let g = global_pos(LOG2_N, blk.group, upper);
            for i in 0..8 {
                let w = outer_twiddle::<SPLIT, false>(&tw0, g + i as u32);
                (b[0][i], b[1][i]) = cmul((b[0][i], b[1][i]), w);
            }
            // SAFETY: as above.
            unsafe { write_chunk::<SPLIT>(&sm, upper, &b, e + 1) };
        }
    } else {
        for k in 0..TILE_CHUNKS_PER_THREAD {
            // SAFETY: this thread's chunks of the free planes.
            unsafe { write_chunk::<SPLIT>(&sm, 8 * (st.index + k * THREADS), &chunk(k), e) };
        }
    }
    let log2_outer = long_outer_log2(LOG2_N);
    let dft16 = Dft::new(4);
    for s in (stage0 != 0) as u32..num_stages(log2_outer) {
        sync_threads();
        let g = outer_stage(LOG2_N, s);
        let tw = outer_twiddles(LOG2_N, s);
        let mut first = None;
        let dft = stage_dft(&dft16, &mut first, g.log2_r);
        // SAFETY: all threads between barriers, on this block's planes.
        unsafe {
            run_stage::<SPLIT, false, _>(&sm, LONG_TILE_LOG2, g, dft, |tile, re, im| {
                for e in 0..4 {
                    let w = outer_twiddle::<SPLIT, false>(&tw, global_pos(LOG2_N, blk.group, tile.pos(e)));
                    (re[e], im[e]) = cmul((re[e], im[e]), w);
                }
            })
        };
    }
    sync_threads();
    let row = workspace_row(z, LOG2_N, blk.q) as *mut f32;
    let e_out = e - outer_scale_log2(LOG2_N);
    for k in 0..TILE_CHUNKS_PER_THREAD {
        let pos = 8 * (st.index + k * THREADS);
        let g = global_pos(LOG2_N, blk.group, pos);
        // SAFETY: a chunk of the planes (after the barrier); 8 complex values of the pair's
        // workspace row (positions `g .. g + 8` share one row of the tile: C ≥ 8).
        unsafe {
            if SPLIT {
                let (re, im) = (read_chunk::<true>(&sm, pos, 0), read_chunk::<true>(&sm, pos, 1));
                store_complex8(row.add(2 * g as usize), &re, &im, e_out);
            } else {
                store_half8((z as *mut u8).add(half_offset(LOG2_N, blk.q, g)), &sm, pos);
            }
        }
    }
    if !SPLIT && thread_x() == 0 {
        // SAFETY: this block's exponent word (column group `group` of the pair).
        unsafe { *exponents(z, LOG2_N, p.pairs, blk.q).add(blk.group as usize) = e_out };
    }
}

/// Pass *mid*, by `MODE`:
/// * [`MID_CONV`]: row `j` of a pair's workspace row is transformed, multiplied by the kernel
///   spectrum's row `j`, inverted and written back, exact;
/// * [`MID_PREPARE`]: the rows are the kernel's (one head per "pair"): the exact spectrum is
///   stored in `prepared` and each head's largest component magnitude is max-reduced into
///   `prepared[H·2N + h]` (zeroed by the host before);
/// * [`MID_SPECTRUM`]: the row's exact spectrum replaces it in the workspace (`prepared`
///   unused);
/// * [`MID_SPECTRUM_CONV`]: both of the above from one transform (the backward's `z`): the
///   spectrum replaces the row as with `MID_SPECTRUM`, and the convolution's row goes to the
///   same row of workspace `dst` (as `MID_CONV` writes it in place);
/// * [`MID_GRAD`]: the backward's `dv` row: its spectrum `DV` times the same row of `dst`'s
///   spectrum `Z` (from [`MID_SPECTRUM`]), `P = DV · conj(Z)`, replaces that row of `dst` (in
///   the spectrum's units, as `Z`: f32 split, complex f16 unsplit, with the row's exponent word
///   written in both cases), and `iFFT_row(DV · conj(K))` (`dz`) is written back in place, as
///   `MID_CONV` writes its rows.
///
/// `dst` is `z` except with `MID_SPECTRUM_CONV` and `MID_GRAD`.
///
/// # Safety
/// `z` holds `p.pairs` workspace rows written by pass *in*; `prepared` a prepared spectrum of
/// `p.heads` heads for `N = 2^p.log2_n` (written by the `PREPARE` launches of the same heads
/// before, or, with `MID_PREPARE`, to be written); with `MID_SPECTRUM_CONV`, `dst` holds
/// `p.pairs` workspace rows and overlaps neither; with `MID_GRAD` it holds the `p.pairs` spectra
/// of [`MID_SPECTRUM`] (with its exponent words unsplit) and overlaps neither; grid `p.pairs · N₁`, block `THREADS`, shared
/// memory `long_mid_shared_bytes(SPLIT)`.
#[inline(always)]
pub unsafe fn long_mid<const MODE: u32, const SPLIT: bool>(
    z: *mut f32,
    dst: *mut f32,
    prepared: *mut f32,
    p: LongFftParams,
) {
    let log2_n = p.log2_n;
    let sm = Smem::new(LONG_INNER_LOG2, SPLIT);
    let st = SlotThreads::new(LONG_INNER_LOG2);
    // Row-major over the launch's pairs: consecutive blocks take row `j` of consecutive pairs,
    // which share the spectrum's row `j` (in L2) while they belong to one head.
    let (j, q) = ((block_x() / p.pairs as u64) as u32, block_x() % p.pairs as u64);
    let pair = p.pair0 as u64 + q;
    let h = pair / p.pairs_per_head() as u64;
    let row = (workspace_row(z, log2_n, q) as *mut f32).wrapping_add((j as usize) << (LONG_INNER_LOG2 + 1));
    let exps = exponents(z, log2_n, p.pairs, q);
    let e = if SPLIT {
        // Two reads of the row (the second from L2): its largest magnitude, then the planes,
        // with stage 0 (radix 2 at stride N₂/2) on the way in, as the unsplit fill below does
        // it (here with the accurate twiddles: split planes carry 2⁻²¹ errors).
        let mut m = 0.0f32;
        for k in 0..ROW_CHUNKS_PER_THREAD {
            let c = st.index + k * THREADS;
            // SAFETY: 8 complex values of the row written by *in*.
            m = m.max(max_abs(&unsafe { load_complex8(row.add(16 * c as usize)) }));
        }
        // SAFETY: all threads; the reduction area.
        let e = norm_exponent(unsafe { slot_max(&sm, &st, m) });
        let tw0 = Twiddles::of(stage(LONG_INNER_LOG2, 0));
        for k in 0..ROW_HALF_CHUNKS_PER_THREAD {
            let c = st.index + k * THREADS;
            let upper = 8 * c + (1 << (LONG_INNER_LOG2 - 1));
            // SAFETY: as above (chunks `c` and `c + N₂/16` of the row).
            let (mut a, mut b) =
                unsafe { (load_complex8(row.add(16 * c as usize)), load_complex8(row.add(2 * upper as usize))) };
            butterfly(&mut a, &mut b);
            // SAFETY: this thread's chunks of the free planes.
            unsafe { write_chunk::<SPLIT>(&sm, 8 * c, &a, e + 1) };
            for i in 0..8 {
                let w = tw0.at_accurate::<false>(upper + i as u32);
                (b[0][i], b[1][i]) = cmul((b[0][i], b[1][i]), w);
            }
            // SAFETY: as above.
            unsafe { write_chunk::<SPLIT>(&sm, upper, &b, e + 1) };
        }
        e
    } else {
        // Half rows are held in registers (32 words) between the maximum and the fill: one read.
        // (Only the conv and spectrum modes are unsplit: the kernel spectrum is prepared split.)
        const { assert!(SPLIT || MODE != MID_PREPARE) };
        let mut held = [([0u32; 8], 0i32); ROW_CHUNKS_PER_THREAD as usize];
        let mut m = 0.0f32;
        for (k, (bits, e_group)) in held.iter_mut().enumerate() {
            let c = st.index + k as u32 * THREADS;
            // SAFETY: 8 complex values of the half row written by *in*, and their column group's
            // exponent word.
            unsafe {
                *bits = load_half8_bits((row as *const u8).add(32 * c as usize));
                *e_group = *exps.add(((8 * c) >> long_columns_log2(log2_n)) as usize);
            }
        }
        for (bits, e_group) in &held {
            m = m.max(max_abs(&half8_values(bits, *e_group)));
        }
        // SAFETY: all threads; the reduction area.
        let e = norm_exponent(unsafe { slot_max(&sm, &st, m) });
        // Stage 0 (radix 2 at stride N₂/2) in registers: a thread holds chunks `c` and `c + N₂/16`
        // (`k` and `k + 2`); position `n < N₂/2` gets `(x[n] + x[n + N₂/2])/2`, and `n + N₂/2`
        // gets `(x[n] − x[n + N₂/2])·W_N₂^n/2` (the 1/2 in the exponent, as the stage's scale
        // would apply it).
        let tw0 = Twiddles::of(stage(LONG_INNER_LOG2, 0));
        for k in 0..ROW_HALF_CHUNKS_PER_THREAD {
            let c = st.index + k * THREADS;
            let (a, b) = (held[k as usize], held[(k + ROW_HALF_CHUNKS_PER_THREAD) as usize]);
            let (mut a, mut b) = (half8_values(&a.0, a.1), half8_values(&b.0, b.1));
            butterfly(&mut a, &mut b);
            // SAFETY: this thread's chunk of the free planes.
            unsafe { write_chunk::<SPLIT>(&sm, 8 * c, &a, e + 1) };
            for i in 0..8 {
                let w = tw0.at::<false>((8 * c + i as u32) | (1 << (LONG_INNER_LOG2 - 1)));
                (b[0][i], b[1][i]) = cmul((b[0][i], b[1][i]), w);
            }
            // SAFETY: as above.
            unsafe { write_chunk::<SPLIT>(&sm, 8 * c + (1 << (LONG_INNER_LOG2 - 1)), &b, e + 1) };
        }
        e
    };
    // The fill did stage 0 (and the row stores do the inverse's).
    let first = 1;
    let pair = const { pair_last_stages(LONG_INNER_LOG2, true, long_mid_shared_bytes(SPLIT), false) };
    let (dft16, dft_first) = (Dft::new(4), Dft::new(LONG_INNER_LOG2 % 4));
    let n2 = 2u64 << log2_n;
    let spectrum = prepared.wrapping_add((h * n2 + ((j as u64) << (LONG_INNER_LOG2 + 1))) as usize);
    let head_max = prepared.wrapping_add((p.heads as u64 * n2 + h) as usize);
    if MODE == MID_PREPARE {
        // SAFETY: the reduction area's maximum word, ordered by the transform's barriers.
        unsafe {
            if thread_x() == 0 {
                device::st_shared_f32(slot_word(&sm, 3, 0), 0.0);
            }
            forward_fft::<SPLIT, _>(&sm, LONG_INNER_LOG2, &dft16, &dft_first, first, pair, |tile, re, im| {
                let at = 2 * spectrum_index(tile.local, lane(), 0) as usize;
                let mx = store_spectrum4(spectrum.add(at), re, im, e - transform_scale_log2(LONG_INNER_LOG2));
                device::atomic_max_shared_u32(slot_word(&sm, 3, 0), mx.to_bits());
            });
            sync_threads();
            if thread_x() == 0 {
                let mx = device::ld_shared_f32(slot_word(&sm, 3, 0));
                device::atomic_max_global_u32(head_max as *mut u32, mx.to_bits());
            }
        }
        return;
    }
    // The spectrum modes store the row's spectrum; the conv modes multiply it by the kernel's
    // (`MID_GRAD` by its conjugate, after the product with `dst`'s spectrum row).
    let keep_spectrum = MODE == MID_SPECTRUM || MODE == MID_SPECTRUM_CONV;
    let grad = MODE == MID_GRAD;
    let conv = MODE != MID_SPECTRUM;
    // SAFETY (conv modes): the head's maximum, written by the prepare launches.
    let sigma = if conv { pow2(-norm_exponent(unsafe { *head_max })) } else { 1.0 };
    let e_row = e - transform_scale_log2(LONG_INNER_LOG2);
    // SAFETY (MID_GRAD): `dst` holds the pairs' spectra (unsplit, with their exponent words).
    let z_spectrum = grad.then(|| unsafe { SpectrumRow::<SPLIT>::spectrum(dst, &p, q, j) });
    // SAFETY: all threads between barriers; the spectrum row holds `N₂` complex values; with
    // `keep_spectrum` each lane writes its tile's spectrum values over the row, which every
    // thread finished reading before the transform's first barrier (unsplit: a half spectrum
    // row and the row's exponent word); with `MID_GRAD` each lane writes `P` over the very
    // values of `dst`'s row it has just read, and `P`'s exponent word after the transform's
    // barriers (every thread read `Z`'s before them).
    unsafe {
        forward_fft::<SPLIT, _>(&sm, LONG_INNER_LOG2, &dft16, &dft_first, first, pair, |tile, re, im| {
            if keep_spectrum {
                store_spectrum_values::<SPLIT>(row, tile.local, re, im, e_row);
            }
            if let Some(zs) = &z_spectrum {
                let zv = zs.lane4(tile.local);
                let (mut pr, mut pi) = ([0.0f32; 4], [0.0f32; 4]);
                for e in 0..4 {
                    (pr[e], pi[e]) = cmul((re[e], im[e]), (zv[e].0, -zv[e].1));
                }
                // Units: |DV|, |Z| ≤ 64 in the planes' scale (a unit input through three radix-16
                // stages at 1/4 and one radix-2 at 1/2), so |P| ≤ 8192 fits f16.
                store_spectrum_values::<SPLIT>(zs.row as *mut f32, tile.local, &pr, &pi, 0);
            }
            if conv {
                let kv = load_spectrum4(spectrum, tile.local);
                for e in 0..4 {
                    (re[e], im[e]) = if grad {
                        times_kernel::<true>((re[e], im[e]), sigma, kv[e])
                    } else {
                        times_kernel::<false>((re[e], im[e]), sigma, kv[e])
                    };
                }
            }
        });
        if keep_spectrum && !SPLIT && thread_x() == 0 {
            *exps.add((long_column_groups(log2_n) + j) as usize) = e_row;
        }
        if let Some(zs) = &z_spectrum {
            if thread_x() == 0 {
                *exponents(dst, log2_n, p.pairs, q).add((long_column_groups(log2_n) + j) as usize) = e_row + zs.e;
            }
        }
        if !conv {
            return;
        }
        inverse_fft::<SPLIT>(&sm, LONG_INNER_LOG2, &dft16, &dft_first, first, pair);
    }
    sync_threads();
    let e_out = e - 2 * transform_scale_log2(LONG_INNER_LOG2) - log2_pow2(sigma);
    let (out_row, out_exps) = if keep_spectrum {
        let dst_row = (workspace_row(dst, log2_n, q) as *mut f32).wrapping_add((j as usize) << (LONG_INNER_LOG2 + 1));
        (dst_row, exponents(dst, log2_n, p.pairs, q))
    } else {
        (row, exps)
    };
    // SAFETY: all threads after the barrier; the row (of `z`, or of `dst` with
    // `keep_spectrum`) and its exponent word are only this block's.
    unsafe { store_row_result::<SPLIT>(&sm, &st, out_row, out_exps, log2_n, j, e_out) };
}

/// Pass *out*: the outer inverse stages of column group `group` of a pair's workspace row
/// (after pass *mid*), then `y = out_gate ⊙ (1/N) · result` at positions below `len` (real
/// part: the pair's first row, imaginary: its second), and, unless `y2` is null, also
/// `y2 = gate2 ⊙ (1/N) · result` (the backward's `du` and `d_in_gate` from one transform).
///
/// # Safety
/// `z` holds `p.pairs` workspace rows; `gate` (if flagged), `y` and, unless `y2` is null, `gate2`
/// and `y2` the `(B, H, len)` rows (`FLAG_VECTOR` for all four); grid, block and shared memory as
/// [`long_in`].
#[inline(always)]
pub unsafe fn long_out<E: OutRow, const LOG2_N: u32, const SPLIT: bool>(
    z: *const f32,
    gate: *const E,
    y: *mut E,
    gate2: *const E,
    y2: *mut E,
    p: LongFftParams,
) {
    let sm = Smem::new(LONG_TILE_LOG2, SPLIT);
    let st = SlotThreads::new(LONG_TILE_LOG2);
    let blk = TileBlock::of(&p, LOG2_N);
    let gate = if p.flags & FLAG_OUT_GATE != 0 { gate } else { core::ptr::null() };
    let vector = p.flags & FLAG_VECTOR != 0;
    let row = workspace_row(z, LOG2_N, blk.q);
    let exps = exponents(z, LOG2_N, p.pairs, blk.q) as *const i32;
    let log2_outer = long_outer_log2(LOG2_N);
    let ns = num_stages(log2_outer);
    // The last outer stage's twiddles (conjugated) come first in the inverse.
    let tw_last = outer_twiddles(LOG2_N, ns - 1);
    let tile_pos = |k: u32| 8 * (st.index + k * THREADS);
    let chunk_pos = |k: u32| global_pos(LOG2_N, blk.group, tile_pos(k));
    // Unsplit: where position `g`'s 8 values sit in the half rows, and the exponent *mid* wrote
    // for their row `j`.
    let half_at = |g: u32| (z as *const u8).wrapping_add(half_offset(LOG2_N, blk.q, g));
    // SAFETY (callers): `g` is a position of the pair's row; the exponent words are written.
    let row_exp = |g: u32| unsafe { *exps.add((long_column_groups(LOG2_N) + (g >> LONG_INNER_LOG2)) as usize) };
    let twiddle = |v: &mut [[f32; 8]; 2], g: u32| {
        for i in 0..8 {
            (v[0][i], v[1][i]) = cmul((v[0][i], v[1][i]), outer_twiddle::<SPLIT, true>(&tw_last, g + i as u32));
        }
    };
    let e = if SPLIT {
        // Two reads of the tile's f32 rows (the second from L1 or L2), so that no chunk (16
        // values) is held across the block's maximum: the maximum of the untwiddled values (a
        // unit twiddle raises the largest component by at most √2, far inside f16's range; the
        // exponent only has to keep the planes from overflowing), then each chunk twiddled on
        // its way in. With that the split *out* fits two blocks per SM (it held 64 values and
        // ran at 162 registers, one block).
        let mut m = 0.0f32;
        for k in 0..TILE_CHUNKS_PER_THREAD {
            // SAFETY: 8 complex values of the pair's workspace row.
            m = m.max(max_abs(&unsafe { load_complex8(row.add(2 * chunk_pos(k) as usize)) }));
        }
        // SAFETY: all threads; the reduction area.
        let e = norm_exponent(unsafe { slot_max(&sm, &st, m) });
        for k in 0..TILE_CHUNKS_PER_THREAD {
            let g = chunk_pos(k);
            // SAFETY: as above.
            let mut v = unsafe { load_complex8(row.add(2 * g as usize)) };
            twiddle(&mut v, g);
            // SAFETY: this thread's chunks of the free planes.
            unsafe { write_chunk::<SPLIT>(&sm, tile_pos(k), &v, e) };
        }
        e
    } else {
        // Half rows stay f16 bits (32 registers, not 64 values) until the planes, so that the
        // pass fits 3 blocks per SM: the maximum comes from the untwiddled bits (a unit twiddle
        // raises the largest component by at most √2, far inside f16's range; the exponent only
        // has to keep the planes from overflowing), then each chunk is widened and twiddled on
        // its way in. The row exponents are read again where they are used (an L1 hit), not
        // held: with that, every unsplit *out* fits 80 registers without a spill.
        let mut held = [[0u32; 8]; TILE_CHUNKS_PER_THREAD as usize];
        for (k, bits) in held.iter_mut().enumerate() {
            // SAFETY: 8 complex values of one row `j` of the pair's half rows.
            *bits = unsafe { load_half8_bits(half_at(chunk_pos(k as u32))) };
        }
        let mut m = 0.0f32;
        for (k, bits) in held.iter().enumerate() {
            // Largest |f16| of the chunk by its bits (sign cleared: magnitudes order as integers).
            let mut top = 0u32;
            for w in bits {
                top = top.max(w & 0x7fff).max((w >> 16) & 0x7fff);
            }
            m = m.max(scale_pow2(device::f16_to_f32(top as u16), row_exp(chunk_pos(k as u32))));
        }
        // SAFETY: all threads; the reduction area.
        let e = norm_exponent(unsafe { slot_max(&sm, &st, m) });
        for (k, bits) in held.iter().enumerate() {
            let g = chunk_pos(k as u32);
            let mut v = half8_values(bits, row_exp(g));
            twiddle(&mut v, g);
            // SAFETY: this thread's chunks of the free planes.
            unsafe { write_chunk::<SPLIT>(&sm, tile_pos(k as u32), &v, e) };
        }
        e
    };
    let dft16 = Dft::new(4);
    // With `outer_stage0_log2_r` the store below does the last stage (radix 2 at half a tile,
    // radix 4 across a thread's four chunks).
    let stage0 = const { outer_stage0_log2_r(LOG2_N) };
    for k in 0..ns - (stage0 != 0) as u32 {
        sync_threads();
        let s = ns - 1 - k;
        let g = outer_stage(LOG2_N, s);
        let mut first = None;
        let dft = stage_dft(&dft16, &mut first, g.log2_r);
        // SAFETY: all threads between barriers, on this block's planes.
        unsafe {
            if s > 0 {
                let tw = outer_twiddles(LOG2_N, s - 1);
                run_stage::<SPLIT, true, _>(&sm, LONG_TILE_LOG2, g, dft, |tile, re, im| {
                    for e in 0..4 {
                        let w = outer_twiddle::<SPLIT, true>(&tw, global_pos(LOG2_N, blk.group, tile.pos(e)));
                        (re[e], im[e]) = cmul((re[e], im[e]), w);
                    }
                })
            } else {
                run_stage::<SPLIT, true, _>(&sm, LONG_TILE_LOG2, g, dft, |_, _, _| {})
            }
        };
    }
    sync_threads();
    let Some(rows) = blk.rows else { return };
    if stage0 == 2 {
        // The last stage, radix 4, on this thread's four chunks, in place (with its scale 1/2).
        // SAFETY: this thread's chunks of the planes, after the barrier.
        unsafe { radix4_in_planes::<SPLIT, true, false>(&sm, 8 * st.index, 8 * THREADS, |_, _| None) };
    }
    // (The last stage's scale 1/2, with radix-2 `stage0`, in the exponent.)
    let e_out = e - outer_scale_log2(LOG2_N) - LOG2_N as i32 - (stage0 == 1) as i32;
    for k in 0..TILE_CHUNKS_PER_THREAD {
        let pos = 8 * (st.index + k * THREADS);
        let g = global_pos(LOG2_N, blk.group, pos);
        if g >= p.len {
            continue;
        }
        // SAFETY: a chunk of the planes after the barrier (and, with `stage0`, the chunk half a
        // tile away); positions `g .. g + 8` of the rows, those at or past `len` skipped by
        // `store_chunk` (or absent with `vector`).
        unsafe {
            let mut v = [read_chunk::<SPLIT>(&sm, pos, 0), read_chunk::<SPLIT>(&sm, pos, 1)];
            if stage0 == 1 {
                // Lower half: `a + b`; upper half: `a − b` (`a` the lower chunk, `b` the upper).
                let partner = pos ^ (1 << (LONG_TILE_LOG2 - 1));
                let w = [read_chunk::<SPLIT>(&sm, partner, 0), read_chunk::<SPLIT>(&sm, partner, 1)];
                for part in 0..2 {
                    for i in 0..8 {
                        v[part][i] = if k < TILE_HALF_CHUNKS_PER_THREAD {
                            v[part][i] + w[part][i]
                        } else {
                            w[part][i] - v[part][i]
                        };
                    }
                }
            }
            for part in v.iter_mut() {
                for x in part.iter_mut() {
                    *x = scale_pow2(*x, e_out);
                }
            }
            E::store_row_chunk(y, gate, rows.first, g >> 3, p.len, vector, v[0]);
            if !y2.is_null() {
                E::store_row_chunk(y2, gate2, rows.first, g >> 3, p.len, vector, v[0]);
            }
            if let Some(second) = rows.second {
                E::store_row_chunk(y, gate, second, g >> 3, p.len, vector, v[1]);
                if !y2.is_null() {
                    E::store_row_chunk(y2, gate2, second, g >> 3, p.len, vector, v[1]);
                }
            }
        }
    }
}

/// Backward `dk` rows: for row `j` of each head `h` of the launch's pairs, row `h − h₀` of `dst`
/// (a region laid out for `heads` pairs: the heads the launch spans, from `h₀`) =
/// `iFFT_row(Σ_q P_q)` over the head's pairs `q` of the launch in increasing order (a fixed
/// order: deterministic), where `P_q` are the products [`MID_GRAD`] left in `a`; written as by
/// *mid* (exact f32 with `SPLIT`, else a half row and its exponent). Block `j · heads + h − h₀`.
///
/// # Safety
/// `a` holds the `p.pairs` product rows and their exponent words; `dst` holds `heads` workspace
/// rows and their exponent words and overlaps `a` nowhere; grid `heads · N₁`, block
/// `THREADS`, shared memory `long_mid_shared_bytes(SPLIT)`.
#[inline(always)]
pub unsafe fn long_dk_sum<const SPLIT: bool>(dst: *mut f32, a: *const f32, p: LongFftParams) {
    /// Tiles of the row a warp loads and keeps (their sums, in registers).
    const WARP_TILES: usize = ((1 << LONG_INNER_LOG2) / 128 / WARPS) as usize;
    let log2_n = p.log2_n;
    let sm = Smem::new(LONG_INNER_LOG2, SPLIT);
    let st = SlotThreads::new(LONG_INNER_LOG2);
    let pph = p.pairs_per_head() as u64;
    let (first, end) = (p.pair0 as u64, p.pair0 as u64 + p.pairs as u64);
    let h0 = first / pph;
    let heads = (end - 1) / pph - h0 + 1;
    let (j, hl) = ((block_x() / heads) as u32, block_x() % heads);
    let h = h0 + hl;
    let (q0, q1) = ((h * pph).max(first) - first, ((h + 1) * pph).min(end) - first);
    // The sums are taken in units of the largest exponent of the head's rows (none overflows).
    // SAFETY: the exponent words of the launch's product rows (`a`'s contract).
    let exponent = |q: u64| unsafe { SpectrumRow::<SPLIT>::exponent(a, log2_n, p.pairs, q, j) };
    let mut e_ref = exponent(q0);
    for q in q0 + 1..q1 {
        e_ref = e_ref.max(exponent(q));
    }
    let warp = thread_x() >> 5;
    let mut sums = [[(0.0f32, 0.0f32); 4]; WARP_TILES];
    for q in q0..q1 {
        let row = SpectrumRow::<SPLIT> { row: SpectrumRow::<SPLIT>::start(a, log2_n, q, j), e: exponent(q) };
        let scale = pow2(row.e - e_ref);
        // SAFETY: a lane's four values of the warp's tiles of the product row.
        let v: [[(f32, f32); 4]; WARP_TILES] = core::array::from_fn(|k| unsafe { row.lane4(warp + k as u32 * WARPS) });
        for (sum, v) in sums.iter_mut().zip(&v) {
            for e in 0..4 {
                sum[e].0 += v[e].0 * scale;
                sum[e].1 += v[e].1 * scale;
            }
        }
    }
    let mut m = 0.0f32;
    for sum in &sums {
        for (re, im) in sum {
            m = m.max(re.abs()).max(im.abs());
        }
    }
    // SAFETY: all threads; the reduction area (the call ends with a barrier).
    let e_sum = norm_exponent(unsafe { slot_max(&sm, &st, m) });
    let inv = pow2(-e_sum);
    // The sums enter the planes where the last forward stage would have left them.
    let g_last = stage(LONG_INNER_LOG2, num_stages(LONG_INNER_LOG2) - 1);
    for (k, sum) in sums.iter().enumerate() {
        let (addr, _) = tile_address(&sm, LONG_INNER_LOG2, g_last, 0, warp + k as u32 * WARPS);
        let re = [sum[0].0 * inv, sum[1].0 * inv, sum[2].0 * inv, sum[3].0 * inv];
        let im = [sum[0].1 * inv, sum[1].1 * inv, sum[2].1 * inv, sum[3].1 * inv];
        // SAFETY: this warp's tile of the planes (nothing else touches them yet).
        unsafe { store_tile::<SPLIT>(&sm, g_last, addr, &re, &im) };
    }
    let (dft16, dft_first) = (Dft::new(4), Dft::new(LONG_INNER_LOG2 % 4));
    let pair = const { pair_last_stages(LONG_INNER_LOG2, true, long_mid_shared_bytes(SPLIT), false) };
    // SAFETY: all threads; starts with a barrier after the tiles above. The row store does the
    // last stage (see `store_row_result`).
    unsafe { inverse_fft::<SPLIT>(&sm, LONG_INNER_LOG2, &dft16, &dft_first, 1, pair) };
    sync_threads();
    let e_out = e_ref + e_sum - transform_scale_log2(LONG_INNER_LOG2);
    let dst_row = (workspace_row(dst, log2_n, hl) as *mut f32).wrapping_add((j as usize) << (LONG_INNER_LOG2 + 1));
    // SAFETY: all threads after the barrier; this block's row of `dst` and its exponent word.
    unsafe { store_row_result::<SPLIT>(&sm, &st, dst_row, exponents(dst, log2_n, heads as u32, hl), log2_n, j, e_out) };
}
