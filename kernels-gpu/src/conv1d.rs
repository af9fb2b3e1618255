//! Short depthwise conv1d: one generic body per operation and layout.
//!
//! `y[b, d, j] = bias[d] + Σ_k w[d, k] · x[b, d, j − pad_left + k]` (see `flashfftconv-abi`).
//! Every body works in chunks of 8 consecutive elements and in tap chunks of 8 taps (taps past
//! `K` are skipped by uniform branches), so any `K` and any padding use the same
//! constant-indexed register arrays; only the number of tap chunks is a run-time loop.
//!
//! * Forward `(B, D, L)`: a warp owns a segment of 1,024 outputs of one row. Its lanes stage
//!   the segment's input plus one chunk of halo on each side in shared memory with coalesced
//!   16-byte loads (lane `l` takes chunks `l, l + 32, …`: 512 contiguous bytes per warp-wide
//!   load), all issued before the first is used; then lane `l` computes output chunks
//!   `l + 32g` from 16-byte shared-memory reads and stores them, again 512 contiguous bytes
//!   per warp-wide store. The window's shift `(−pad_left) mod 8` is the same for the whole
//!   launch, so the bodies are stamped once per shift value behind one uniform `match` and
//!   the shift is free register renaming. Warps never wait for each other (no block barrier).
//! * `(B, L, D)`: a warp owns a tile of 128 channels × `P` positions, copies its input rows
//!   into shared memory with `cp.async`, and lane `l` computes channels `4l .. 4l + 4` in groups
//!   of `G` outputs from shared memory; the tap count of a tap chunk is a compile-time constant
//!   (8 stamped bodies). The weight gradient stages its items the same way.
//!
//! The input gradient is this forward with taps reversed and `pad_left' = K − 1 − pad_left`
//! (`FLAG_FLIP_TAPS`). Weight and bias gradients reduce over (batch, position) into per-warp
//! partials in a fixed order, summed by `weight_grad_reduce`: deterministic, no atomics. In
//! either layout with K ≤ 8 one kernel (`backward_bhl`, `backward_blh`) computes the input
//! gradient and, from the same staged `dy` window, the weight-gradient partials, so `dy` is
//! read once.

use crate::device::{
    block_x, block_y, dynamic_shared_base, ld_shared_16b, load_16b, st_shared_16b, thread_x, thread_y,
};
use crate::element::{Accum, Bf16, Element, F16};
use core::arch::asm;
use flashfftconv_abi::conv1d::{
    geometry::*, Conv1dParams, Conv1dWeightGradParams, CHUNK, FLAG_FLIP_TAPS, FLAG_HAS_BIAS, FLAG_INPUT_VECTOR,
    FLAG_OUTPUT_VECTOR, FLAG_X_VECTOR,
};

const C: usize = CHUNK;
/// Output positions per group of the fused `(B, L, D)` backward, which holds `dx` accumulators
/// and the weight-gradient sums at once: 4 for 16-bit inputs, 2 for f32 (f64 accumulators).
pub const BWD_GROUP_16BIT: usize = 4;
/// See [`BWD_GROUP_16BIT`].
pub const BWD_GROUP_F32: usize = 2;
/// Output positions per inner group of the `(B, L, D)` bodies (`G` below): each group loads
/// `G + 7` input positions per tap chunk and keeps `G × 4` accumulators. 8 for 16-bit outputs;
/// f32 outputs, whose accumulators are f64, use 4 to keep registers for occupancy.
pub const GROUP_16BIT: usize = 8;
/// See [`GROUP_16BIT`].
pub const GROUP_F32: usize = 4;

/// Elements `start .. start + 8` of a row of `len` elements, zero outside `[0, len)`.
///
/// # Safety
/// The row's elements `[0, len)` are readable; with `vector`, the row starts 16-byte aligned
/// and `start` is a multiple of 8.
#[inline(always)]
unsafe fn load_chunk<T: Element>(row: *const T, start: i64, len: i64, vector: bool) -> [f32; C] {
    if vector && start >= 0 && start + C as i64 <= len {
        // SAFETY: in bounds and aligned (caller).
        unsafe { T::load8(row.offset(start as isize)) }
    } else {
        let mut v = [0.0f32; C];
        for (i, slot) in v.iter_mut().enumerate() {
            let e = start + i as i64;
            if e >= 0 && e < len {
                // SAFETY: in bounds (caller).
                *slot = unsafe { T::load(row.offset(e as isize)) };
            }
        }
        v
    }
}

/// Channels a lane of the `(B, L, D)` kernels owns: 4 (8-byte loads of 16-bit types), so that
/// its accumulators, taps and inputs fit in few enough registers for a full SM.
const LANE: usize = 4;

/// Write elements `start .. start + 4` of a row of `len`, dropping those at `len` or beyond.
///
/// # Safety
/// As [`store_chunk`], with `start` a multiple of 4.
#[inline(always)]
unsafe fn store_lane<T: Element>(row: *mut T, start: i64, len: i64, vector: bool, v: [T::Acc; LANE]) {
    if vector && start + LANE as i64 <= len {
        // SAFETY: in bounds and aligned (caller).
        unsafe { T::store4(row.offset(start as isize), v) };
    } else {
        for (i, &value) in v.iter().enumerate() {
            let e = start + i as i64;
            if e < len {
                // SAFETY: in bounds (caller).
                unsafe { T::store(row.offset(e as isize), value) };
            }
        }
    }
}

/// Write elements `start .. start + 8` of a row of `len`, dropping those at `len` or beyond.
///
/// # Safety
/// `[0, len)` of the row is writable; `start ≥ 0`; with `vector` as for [`load_chunk`].
#[inline(always)]
unsafe fn store_chunk<T: Element>(row: *mut T, start: i64, len: i64, vector: bool, v: [T::Acc; C]) {
    if vector && start + C as i64 <= len {
        // SAFETY: in bounds and aligned (caller).
        unsafe { T::store8(row.offset(start as isize), v) };
    } else {
        for (i, &value) in v.iter().enumerate() {
            let e = start + i as i64;
            if e < len {
                // SAFETY: in bounds (caller).
                unsafe { T::store(row.offset(e as isize), value) };
            }
        }
    }
}

/// Chunks a `(B, D, L)` thread owns.
const RUN_CHUNKS: usize = BHL_RUN_CHUNKS as usize;
/// Elements of a run.
const RUN: usize = RUN_CHUNKS * C;
/// Elements a run's window is assembled from: the run's chunks plus two neighbours.
const RUN_WINDOW: usize = RUN + 2 * C;

/// Elements `start .. start + RUN + 7` of a row (zero outside it) at the front of the returned
/// array, so that output `o` of a run with tap-chunk base `start` reads `win[o + kk]`. Built
/// from aligned chunk loads; `S = start mod 8` is a compile-time constant (the kernels
/// dispatch on it once: it is the same for every thread and tap chunk of a launch), so the
/// shift is free register renaming.
///
/// # Safety
/// As [`load_chunk`]; `start ≡ S (mod 8)`.
#[inline(always)]
unsafe fn load_run_window<T: Element, const S: usize>(
    row: *const T,
    start: i64,
    len: i64,
    vector: bool,
) -> [f32; RUN + C] {
    let base = start - S as i64;
    // The last chunk holds needed elements only when the shift is 2 or more.
    let chunks = if S >= 2 { RUN_CHUNKS + 2 } else { RUN_CHUNKS + 1 };
    let mut raw = [0.0f32; RUN_WINDOW];
    for v in 0..RUN_CHUNKS + 2 {
        if v < chunks {
            // SAFETY: forwarded from the caller; the chunk start is a multiple of 8.
            let chunk = unsafe { load_chunk(row, base + (v * C) as i64, len, vector) };
            for e in 0..C {
                raw[v * C + e] = chunk[e];
            }
        }
    }
    let mut win = [0.0f32; RUN + C];
    for m in 0..RUN + C {
        win[m] = raw[m + S];
    }
    win
}

/// `(B, D, L)` bodies are stamped once per input shift `(−pad_left) mod 8`: calls
/// `$body::<T, W, S>(args…)` for the launch's shift.
macro_rules! dispatch_shift {
    ($shift:expr, $body:ident::<$($t:ty),*>($($arg:expr),*)) => {
        match $shift {
            0 => $body::<$($t,)* 0>($($arg),*),
            1 => $body::<$($t,)* 1>($($arg),*),
            2 => $body::<$($t,)* 2>($($arg),*),
            3 => $body::<$($t,)* 3>($($arg),*),
            4 => $body::<$($t,)* 4>($($arg),*),
            5 => $body::<$($t,)* 5>($($arg),*),
            6 => $body::<$($t,)* 6>($($arg),*),
            _ => $body::<$($t,)* 7>($($arg),*),
        }
    };
}

/// `(−pad_left) mod 8`: where a run's input window starts inside its first aligned chunk.
#[inline(always)]
fn input_shift(p: &Conv1dParams) -> u32 {
    (C as u32 - p.pad_left % C as u32) % C as u32
}

/// `(a / b, a % b)`, in 32-bit arithmetic when both fit (a 64-bit division is a long
/// software routine on the GPU).
#[inline(always)]
fn div_rem(a: u64, b: u64) -> (u64, u64) {
    if (a | b) >> 32 == 0 {
        let (a, b) = (a as u32, b as u32);
        ((a / b) as u64, (a % b) as u64)
    } else {
        (a / b, a % b)
    }
}

/// Taps `8·chunk .. 8·chunk + 8` of channel `d` (zero past the last tap), reversed when `flip`.
///
/// # Safety
/// `w` holds `(D, taps)` weights and `d < D`.
#[inline(always)]
unsafe fn load_taps<W: Element>(w: *const W, d: u64, taps: u32, chunk: u32, flip: bool) -> [f32; C] {
    // Every load is issued (from a clamped, valid tap) before any value is used; taps past
    // K are zeroed afterwards.
    let mut out = [0.0f32; C];
    for (kk, slot) in out.iter_mut().enumerate() {
        let k = (chunk * C as u32 + kk as u32).min(taps - 1);
        let tap = if flip { taps - 1 - k } else { k };
        // SAFETY: d < D and tap < taps (caller).
        *slot = unsafe { W::load(w.add((d * taps as u64 + tap as u64) as usize)) };
    }
    for (kk, slot) in out.iter_mut().enumerate() {
        if chunk * C as u32 + kk as u32 >= taps {
            *slot = 0.0;
        }
    }
    out
}

/// `bias[d]`, or zero without a bias.
///
/// # Safety
/// With `FLAG_HAS_BIAS`, `bias` holds `D` elements and `d < D`.
#[inline(always)]
unsafe fn load_bias<W: Element>(bias: *const W, d: u64, p: &Conv1dParams) -> f32 {
    if p.flags & FLAG_HAS_BIAS != 0 {
        // SAFETY: caller.
        unsafe { W::load(bias.add(d as usize)) }
    } else {
        0.0
    }
}

/// How a storage type crosses shared memory: as 16-byte pieces of 8-element chunks.
pub trait Staged: Element {
    /// 16-byte pieces per 8-element chunk: 1 for 16-bit types, 2 for f32.
    const PIECES: usize;
    /// Elements per 16-byte piece.
    const PIECE_ELEMS: usize = C / Self::PIECES;
    /// The elements of one 16-byte piece, widened; the first [`Staged::PIECE_ELEMS`] count.
    fn widen_piece(w: [u32; 4]) -> [f32; C];
    /// The raw bits of one element, zero-extended.
    ///
    /// # Safety
    /// `ptr` is readable.
    unsafe fn load_bits(ptr: *const Self) -> u32;
    /// A chunk's 16-byte pieces from the raw bits of its 8 elements.
    fn chunk_from_bits(b: [u32; C]) -> [[u32; 4]; 2];
}

/// Warp-wide barrier: orders the warp's shared-memory writes before its later reads (and
/// reads before later writes).
#[inline(always)]
fn sync_warp() {
    // SAFETY: every caller reaches it with all 32 lanes of the warp (warp-uniform control flow).
    unsafe { asm!("bar.warp.sync 0xffffffff;", options(nostack)) };
}

/// The two 16-bit types: a 16-byte piece is a whole chunk.
macro_rules! staged_16bit {
    ($t:ty) => {
        impl Staged for $t {
            const PIECES: usize = 1;
            #[inline(always)]
            fn widen_piece(w: [u32; 4]) -> [f32; C] {
                let (a, b) = (Self::widen4(&[w[0], w[1]]), Self::widen4(&[w[2], w[3]]));
                [a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]]
            }
            #[inline(always)]
            unsafe fn load_bits(ptr: *const Self) -> u32 {
                // SAFETY: guaranteed by the caller.
                unsafe { *(ptr as *const u16) as u32 }
            }
            #[inline(always)]
            fn chunk_from_bits(b: [u32; C]) -> [[u32; 4]; 2] {
                [[b[0] | b[1] << 16, b[2] | b[3] << 16, b[4] | b[5] << 16, b[6] | b[7] << 16], [0; 4]]
            }
        }
    };
}

staged_16bit!(Bf16);
staged_16bit!(F16);

impl Staged for f32 {
    const PIECES: usize = 2;
    #[inline(always)]
    fn widen_piece(w: [u32; 4]) -> [f32; C] {
        let mut out = [0.0; C];
        for (o, &bits) in out.iter_mut().zip(w.iter()) {
            *o = f32::from_bits(bits);
        }
        out
    }
    #[inline(always)]
    unsafe fn load_bits(ptr: *const Self) -> u32 {
        // SAFETY: guaranteed by the caller.
        unsafe { *(ptr as *const u32) }
    }
    #[inline(always)]
    fn chunk_from_bits(b: [u32; C]) -> [[u32; 4]; 2] {
        [[b[0], b[1], b[2], b[3]], [b[4], b[5], b[6], b[7]]]
    }
}

/// Output chunks a lane of the `(B, D, L)` forward computes per segment.
const LANE_CHUNKS: usize = FWD_BHL_LANE_CHUNKS as usize;

/// A lane's share of one staging pass: the raw 16-byte pieces of chunks `lane + 32·i`.
type StageRegs = [[[u32; 4]; 2]; LANE_CHUNKS + 1];

/// Expands `$body` once per listed index, `$i` bound to it: arrays indexed by `$i` stay in
/// registers whatever the optimiser's unrolling heuristics decide (a loop it leaves rolled
/// indexes them at run time, which moves them to the stack).
macro_rules! unroll {
    ($i:ident in [$($n:literal)*] $body:block) => {{
        $({
            let $i: usize = $n;
            $body
        })*
    }};
}

/// `stage_fetch` and `stage_put` list the `LANE_CHUNKS + 1` chunk indices by hand.
const _: () = assert!(LANE_CHUNKS + 1 == 5, "stage_fetch unrolls 5 chunks");

/// Elements `start .. start + 8` of a row as raw 16-byte pieces, zero outside `[0, len)`,
/// element by element (rows that are not 16-byte aligned or not a multiple of 8 long).
///
/// # Safety
/// The row's elements `[0, len)` are readable.
#[inline(always)]
unsafe fn load_chunk_bits<T: Staged>(row: *const T, start: i64, len: i64) -> [[u32; 4]; 2] {
    let bits = |e: i64| -> u32 {
        let pos = start + e;
        if pos >= 0 && pos < len {
            // SAFETY: 0 ≤ pos < len (caller).
            unsafe { T::load_bits(row.offset(pos as isize)) }
        } else {
            0
        }
    };
    T::chunk_from_bits([bits(0), bits(1), bits(2), bits(3), bits(4), bits(5), bits(6), bits(7)])
}

/// Loads input chunks `base + k` (chunk = 8 elements, zero outside `[0, len)`) of a row for
/// this lane's `k = lane + 32·i < count`, every load issued before any is used. Vector rows
/// load from a clamped, always valid chunk and zero the ones outside afterwards.
///
/// # Safety
/// The row's elements `[0, len)` are readable and not written in this launch; with `vector`,
/// the row starts 16-byte aligned and `len` is a multiple of 8.
#[inline(always)]
unsafe fn stage_fetch<T: Staged>(row: *const T, base: i64, count: u32, lane: u32, len: i64, vector: bool) -> StageRegs {
    let mut raw = [[[0u32; 4]; 2]; LANE_CHUNKS + 1];
    if vector {
        let last = len / C as i64 - 1;
        unroll!(i in [0 1 2 3 4] {
            let k = lane + 32 * i as u32;
            if k < count {
                let c = (base + k as i64).clamp(0, last) as usize;
                // SAFETY: 0 ≤ c ≤ last, so the chunk lies inside the row; 16-byte aligned.
                let at = |piece: usize| unsafe { load_16b(row.add(c * C + piece * T::PIECE_ELEMS) as *const u8) };
                raw[i] = [at(0), if T::PIECES == 2 { at(1) } else { [0; 4] }];
            }
        });
        unroll!(i in [0 1 2 3 4] {
            let c = base + (lane + 32 * i as u32) as i64;
            if c < 0 || c > last {
                raw[i] = [[0; 4]; 2];
            }
        });
    } else {
        unroll!(i in [0 1 2 3 4] {
            let k = lane + 32 * i as u32;
            if k < count {
                // SAFETY: forwarded.
                raw[i] = unsafe { load_chunk_bits(row, (base + k as i64) * C as i64, len) };
            }
        });
    }
    raw
}

/// Stores what [`stage_fetch`] loaded into the warp's staging area at `region`: chunk `k` at
/// `region + k · 8 · size_of::<T>()`.
///
/// # Safety
/// `region` is 16-byte aligned and the warp's own `count` chunks of shared memory.
#[inline(always)]
unsafe fn stage_put<T: Staged>(region: u32, raw: &StageRegs, count: u32, lane: u32) {
    unroll!(i in [0 1 2 3 4] {
        let k = lane + 32 * i as u32;
        if k < count {
            for piece in 0..T::PIECES {
                // SAFETY: chunk k < count of the region (caller).
                unsafe { st_shared_16b(region + (k * T::PIECES as u32 + piece as u32) * 16, raw[i][piece]) };
            }
        }
    });
}

/// The staged input around one output chunk, widened: chunks `slot ..= slot + 2` (those the
/// window of `S + 7 + live` elements reaches; the rest stay zero), so that output `o` of the
/// chunk and tap `kk` read element `o + kk + S`.
///
/// # Safety
/// The staged chunks read are inside the warp's region and were written before a
/// [`sync_warp`].
#[inline(always)]
unsafe fn staged_window<T: Staged, const S: usize>(region: u32, slot: u32, live: usize) -> [f32; 3 * C] {
    // Chunks holding the window's S + 7 + live elements (uniform).
    let chunks = (S + C - 1 + live).div_ceil(C);
    let mut raw = [0.0f32; 3 * C];
    for ch in 0..3 {
        if ch < chunks {
            for piece in 0..T::PIECES {
                // SAFETY: inside the region (caller).
                let words =
                    unsafe { ld_shared_16b(region + ((slot + ch as u32) * T::PIECES as u32 + piece as u32) * 16) };
                let v = T::widen_piece(words);
                for q in 0..T::PIECE_ELEMS {
                    raw[ch * C + piece * T::PIECE_ELEMS + q] = v[q];
                }
            }
        }
    }
    raw
}

/// `acc[o] += Σ_{kk < live} taps[kk] · window[o + kk + S]` for the 8 outputs of a chunk.
#[inline(always)]
fn fma_window<A: Accum, const S: usize>(window: &[f32; 3 * C], taps: &[f32; C], live: usize, acc: &mut [A; C]) {
    for (kk, &tap) in taps.iter().enumerate() {
        // Uniform branch: taps past K are skipped, not multiplied by zero.
        if kk < live {
            for (o, a) in acc.iter_mut().enumerate() {
                *a = a.fma(tap, window[o + kk + S]);
            }
        }
    }
}

/// A chunk's raw 16-byte pieces (as [`stage_fetch`] loads them), widened.
#[inline(always)]
fn widen_chunk<T: Staged>(raw: [[u32; 4]; 2]) -> [f32; C] {
    let mut out = [0.0f32; C];
    unroll!(piece in [0 1] {
        if piece < T::PIECES {
            let v = T::widen_piece(raw[piece]);
            for q in 0..T::PIECE_ELEMS {
                out[piece * T::PIECE_ELEMS + q] = v[q];
            }
        }
    });
    out
}

/// Sums each of `taps` and `bias` over the warp (butterfly: every lane ends with the sums, in
/// the same order on every run).
#[inline(always)]
fn warp_sum<A: Accum>(taps: &mut [A; C], bias: &mut A) {
    let mut mask = 16;
    while mask > 0 {
        for a in taps.iter_mut() {
            *a = a.add(a.shfl_xor(mask));
        }
        *bias = bias.add(bias.shfl_xor(mask));
        mask /= 2;
    }
}

/// Forward / input gradient, `(B, D, L)`. Grid: `⌈B·D·⌈len_out / 1024⌉ / 4⌉` blocks of 128
/// threads with [`fwd_bhl_shared_bytes`] of dynamic shared memory; warp `v` of the launch owns
/// segment `v mod segments_per_row` (1,024 outputs) of row `v / segments_per_row`.
///
/// # Safety
/// `x` holds `B·D·len_in` elements, `y` `B·D·len_out`, `w` `D·taps`, `bias` `D` (if flagged);
/// `y` overlaps none of them; the vector flags are set only when their alignment holds; the
/// launch has the block shape and shared memory above.
#[inline(always)]
pub unsafe fn forward_bhl<T: Staged, W: Element>(x: *const T, w: *const W, bias: *const W, y: *mut T, p: Conv1dParams) {
    // SAFETY: forwarded.
    unsafe { dispatch_shift!(input_shift(&p), forward_bhl_shifted::<T, W>(x, w, bias, y, p)) }
}

/// [`forward_bhl`] for input shift `S`.
///
/// # Safety
/// As [`forward_bhl`].
#[inline(always)]
unsafe fn forward_bhl_shifted<T: Staged, W: Element, const S: usize>(
    x: *const T,
    w: *const W,
    bias: *const W,
    y: *mut T,
    p: Conv1dParams,
) {
    let lane = thread_x() % 32;
    let warp = thread_x() / 32;
    let segments_per_row = p.len_out.div_ceil(FWD_BHL_SEGMENT) as u64;
    let segment = block_x() * FWD_BHL_WARPS as u64 + warp as u64;
    if segment >= p.batch as u64 * p.channels as u64 * segments_per_row {
        return; // the whole warp: nothing waits for it
    }
    let (row, segment) = div_rem(segment, segments_per_row);
    let d = div_rem(row, p.channels as u64).1;
    // First output chunk of the segment, and the row's output chunks.
    let first = (segment * FWD_BHL_SEGMENT_CHUNKS as u64) as i64;
    let out_chunks = p.len_out.div_ceil(C as u32) as i64;
    let flip = p.flags & FLAG_FLIP_TAPS != 0;
    let (vin, vout) = (p.flags & FLAG_INPUT_VECTOR != 0, p.flags & FLAG_OUTPUT_VECTOR != 0);
    let (len_in, len_out) = (p.len_in as i64, p.len_out as i64);
    let region = dynamic_shared_base() + warp * FWD_BHL_STAGE_CHUNKS * T::PIECES as u32 * 16;
    // SAFETY: row < B·D.
    let (x_row, y_row) = unsafe { (x.add((row * p.len_in as u64) as usize), y.add((row * p.len_out as u64) as usize)) };
    let tap_chunks = p.tap_chunks();
    // Input chunk where the windows of tap chunk `tc` start, relative to their output chunk:
    // ⌊(8·tc − pad_left) / 8⌋ (exact: S ≡ −pad_left mod 8).
    let lead = |tc: u32| (tc as i64 * C as i64 - p.pad_left as i64 - S as i64) / C as i64;
    // SAFETY: d < D.
    let bias_value = unsafe { load_bias(bias, d, &p) };
    // One tap chunk (K ≤ 8, the usual case): the whole segment is staged once. More: each
    // (output chunk group, tap chunk) pass stages its own 34 chunks.
    let single = tap_chunks == 1;
    let mut taps = [0.0f32; C];
    if single {
        // SAFETY: the row is x's; the region is this warp's (launch shape).
        unsafe {
            let raw = stage_fetch::<T>(x_row, first + lead(0), FWD_BHL_STAGE_CHUNKS, lane, len_in, vin);
            // Issued while the staging loads are in flight.
            taps = load_taps(w, d, p.taps, 0, flip);
            stage_put::<T>(region, &raw, FWD_BHL_STAGE_CHUNKS, lane);
        }
        sync_warp();
    }
    for g in 0..LANE_CHUNKS {
        let group_first = first + 32 * g as i64;
        if group_first >= out_chunks {
            break; // warp-uniform
        }
        let chunk = group_first + lane as i64;
        let mut acc = [T::Acc::from_f32(bias_value); C];
        for tc in 0..tap_chunks {
            let live = (p.taps - tc * C as u32).min(C as u32) as usize;
            let slot = if single {
                32 * g as u32 + lane
            } else {
                let count = 32 + 2;
                // The previous pass's reads are done before the region is rewritten.
                sync_warp();
                // SAFETY: as above.
                unsafe {
                    let raw = stage_fetch::<T>(x_row, group_first + lead(tc), count, lane, len_in, vin);
                    taps = load_taps(w, d, p.taps, tc, flip);
                    stage_put::<T>(region, &raw, count, lane);
                }
                sync_warp();
                lane
            };
            // SAFETY: slot + 2 < the staged count; written before the barrier above.
            let window = unsafe { staged_window::<T, S>(region, slot, live) };
            fma_window::<T::Acc, S>(&window, &taps, live, &mut acc);
        }
        // SAFETY: row < B·D; chunk ≥ 0; outputs at len_out or beyond are dropped.
        unsafe { store_chunk(y_row, chunk * C as i64, len_out, vout, acc) };
    }
}

/// Input gradient fused with the weight- and bias-gradient partials, `(B, D, L)`, K ≤ 8.
///
/// `q.conv` holds the input gradient's parameters (the forward's with `FLAG_FLIP_TAPS`, `dy`
/// of length `len_in` as the input, `pad_left' = K − 1 − pad_left`, `dx` of length `len_out`)
/// and the launch is [`forward_bhl`]'s on them: warp (row, segment) stages its `dy` window and
/// computes its `dx` chunks exactly as the forward does. From the same window it also adds
/// `dw[K − 1 − kk] += Σ_o x[8c + o] · dy[8c + o − pad' + kk]` (`x` has `dx`'s positions, so its
/// chunks are plain aligned loads, no halo) and the bias gradient `Σ dy` over the `dy` chunks
/// of its segment, and writes them as partial row `b · segments + segment`
/// (`q.partial_rows = B · segments`); `weight_grad_reduce` sums the rows in order. One pass
/// over `dy` and `x` instead of two.
///
/// # Safety
/// As [`forward_bhl`] for `(dy, w, dx)` with `q.conv`, `q.conv.taps ≤ 8`; `x` holds
/// `B·D·len_out` elements (16-byte aligned rows if `FLAG_X_VECTOR`); `partials` holds
/// `partial_rows · D · tap_slots` accumulators; `dx` and `partials` overlap nothing.
#[inline(always)]
pub unsafe fn backward_bhl<T: Staged, W: Element>(
    dy: *const T,
    w: *const W,
    x: *const T,
    dx: *mut T,
    partials: *mut W::Acc,
    q: Conv1dWeightGradParams,
) {
    // SAFETY: forwarded.
    unsafe { dispatch_shift!(input_shift(&q.conv), backward_bhl_shifted::<T, W>(dy, w, x, dx, partials, q)) }
}

/// [`backward_bhl`] for input shift `S`.
///
/// # Safety
/// As [`backward_bhl`].
#[inline(always)]
unsafe fn backward_bhl_shifted<T: Staged, W: Element, const S: usize>(
    dy: *const T,
    w: *const W,
    x: *const T,
    dx: *mut T,
    partials: *mut W::Acc,
    q: Conv1dWeightGradParams,
) {
    let p = q.conv;
    let lane = thread_x() % 32;
    let warp = thread_x() / 32;
    let segments_per_row = p.len_out.div_ceil(FWD_BHL_SEGMENT) as u64;
    let segment = block_x() * FWD_BHL_WARPS as u64 + warp as u64;
    if segment >= p.batch as u64 * p.channels as u64 * segments_per_row {
        return; // the whole warp: nothing waits for it
    }
    let (row, segment) = div_rem(segment, segments_per_row);
    let (b, d) = div_rem(row, p.channels as u64);
    let first = (segment * FWD_BHL_SEGMENT_CHUNKS as u64) as i64;
    let out_chunks = p.len_out.div_ceil(C as u32) as i64;
    let (len_in, len_out) = (p.len_in as i64, p.len_out as i64);
    let region = dynamic_shared_base() + warp * FWD_BHL_STAGE_CHUNKS * T::PIECES as u32 * 16;
    // SAFETY: row < B·D; dx and x rows have len_out elements, dy rows len_in.
    let (dy_row, x_row, dx_row) = unsafe {
        (
            dy.add((row * p.len_in as u64) as usize),
            x.add((row * p.len_out as u64) as usize),
            dx.add((row * p.len_out as u64) as usize),
        )
    };
    // The staged window starts one chunk before the segment unless S = 0 (pad' ≤ 7, so the
    // lead is −1 or 0); the dy chunk at the segment's position c is window chunk `own`.
    let lead: i64 = if S == 0 { 0 } else { -1 };
    let own = (-lead) as usize;
    let live = p.taps as usize;
    // SAFETY: the rows are dy's and x's; the region is this warp's (launch shape).
    let (x_raw, taps) = unsafe {
        let raw = stage_fetch::<T>(
            dy_row,
            first + lead,
            FWD_BHL_STAGE_CHUNKS,
            lane,
            len_in,
            p.flags & FLAG_INPUT_VECTOR != 0,
        );
        // Issued while the staging loads are in flight: this lane's x chunks and the taps.
        let x_raw = stage_fetch::<T>(x_row, first, FWD_BHL_SEGMENT_CHUNKS, lane, len_out, p.flags & FLAG_X_VECTOR != 0);
        let taps = load_taps(w, d, p.taps, 0, true);
        stage_put::<T>(region, &raw, FWD_BHL_STAGE_CHUNKS, lane);
        (x_raw, taps)
    };
    sync_warp();
    let mut dw = [W::Acc::ZERO; C];
    let mut dbias = W::Acc::ZERO;
    // Chunks [first, covered) of dy are added to the bias sum by the groups below.
    let mut covered = first;
    unroll!(g in [0 1 2 3] {
        let group_first = first + 32 * g as i64;
        if group_first < out_chunks {
            covered = group_first + 32;
            // SAFETY: slot + 2 < the staged count; written before the barrier above.
            let window = unsafe { staged_window::<T, S>(region, 32 * g as u32 + lane, live) };
            let mut acc = [T::Acc::ZERO; C];
            fma_window::<T::Acc, S>(&window, &taps, live, &mut acc);
            // SAFETY: row < B·D; chunk ≥ 0; outputs at len_out or beyond are dropped.
            unsafe { store_chunk(dx_row, (group_first + lane as i64) * C as i64, len_out, p.flags & FLAG_OUTPUT_VECTOR != 0, acc) };
            let xs = widen_chunk::<T>(x_raw[g]);
            for (kk, a) in dw.iter_mut().enumerate() {
                // Uniform branch, as in `fma_window`.
                if kk < live {
                    for (o, &xo) in xs.iter().enumerate() {
                        *a = a.fma(xo, window[o + kk + S]);
                    }
                }
            }
            for e in 0..C {
                dbias = dbias.add(W::Acc::from_f32(window[own * C + e]));
            }
        }
    });
    // dy may be up to 7 elements longer than dx: its chunk `out_chunks` belongs to the row's
    // last segment, and is staged (the window reaches chunk first + 128 ≥ out_chunks).
    if segment + 1 == segments_per_row && covered <= out_chunks && lane == 0 {
        let slot = (out_chunks - first - lead) as u32;
        // SAFETY: slot < FWD_BHL_STAGE_CHUNKS (see above); written before the barrier.
        let tail = unsafe { staged_window::<T, 0>(region, slot, 1) };
        for &v in tail.iter().take(C) {
            dbias = dbias.add(W::Acc::from_f32(v));
        }
    }
    warp_sum(&mut dw, &mut dbias);
    if lane == 0 {
        let partial_row = b * segments_per_row + segment;
        for (kk, &a) in dw.iter().enumerate() {
            if kk < live {
                // SAFETY: slot K − 1 − kk < tap_slots − 1; inside the partials buffer (caller).
                unsafe { *partials.add(partial_index(partial_row, d, (live - 1 - kk) as u64, &q)) = a };
            }
        }
        // SAFETY: as above; the last slot is the bias.
        unsafe { *partials.add(partial_index(partial_row, d, q.tap_slots as u64 - 1, &q)) = dbias };
    }
}

/// Taps of one chunk for a lane's 4 consecutive channels: `[tap][channel]`.
///
/// # Safety
/// As [`load_taps`] for each channel `< D`; channels at or past `D` read as zero.
#[inline(always)]
unsafe fn load_taps_lane<W: Element>(
    w: *const W,
    d0: u64,
    channels: u64,
    taps: u32,
    chunk: u32,
    flip: bool,
) -> [[f32; LANE]; C] {
    let mut out = [[0.0f32; LANE]; C];
    for ch in 0..LANE {
        let d = d0 + ch as u64;
        if d < channels {
            // SAFETY: d < D (checked), rest from the caller.
            let t = unsafe { load_taps(w, d, taps, chunk, flip) };
            for kk in 0..C {
                out[kk][ch] = t[kk];
            }
        }
    }
    out
}

/// `cp.async` of 16 bytes from global to shared memory; the bytes past `src_bytes` (0 or 16)
/// are filled with zeros, and with 0 nothing is read.
///
/// # Safety
/// `dst` is a 16-byte-aligned shared address of this block; `src` is 16-byte aligned and, when
/// `src_bytes` is 16, points to 16 readable bytes of global memory not written in this launch.
/// The copy is complete only after [`cp_async_wait_all`].
#[inline(always)]
unsafe fn cp_async_16b(dst: u32, src: *const u8, src_bytes: u32) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        asm!("cp.async.cg.shared.global [{d}], [{s}], 16, {n};", d = in(reg32) dst, s = in(reg64) src,
             n = in(reg32) src_bytes, options(nostack));
    }
}

/// Waits for this thread's `cp.async` copies; their bytes are then visible to this thread (a
/// [`sync_warp`] after it makes them visible to the warp).
#[inline(always)]
fn cp_async_wait_all() {
    // SAFETY: no operands; orders this thread's earlier copies before its later accesses.
    unsafe { asm!("cp.async.wait_all;", options(nostack)) };
}

/// 8 bytes from shared memory.
///
/// # Safety
/// `addr` is an 8-byte-aligned address inside the block's shared memory.
#[inline(always)]
unsafe fn ld_shared_8b(addr: u32) -> [u32; 2] {
    let (a, b): (u32, u32);
    // SAFETY: guaranteed by the caller.
    unsafe {
        asm!("ld.shared.v2.u32 {{{a}, {b}}}, [{p}];", a = out(reg32) a, b = out(reg32) b, p = in(reg32) addr,
             options(readonly, nostack));
    }
    [a, b]
}

/// `v`, hidden from the optimiser (a loop bounded by it is not unrolled).
#[inline(always)]
fn opaque(v: u32) -> u32 {
    let out: u32;
    // SAFETY: a register move.
    unsafe { asm!("mov.u32 {o}, {i};", o = out(reg32) out, i = in(reg32) v, options(pure, nomem, nostack)) };
    out
}

/// Warps per block: the block's y extent.
#[inline(always)]
fn block_warps() -> u32 {
    let out: u32;
    // SAFETY: reads a special register.
    unsafe { asm!("mov.u32 {o}, %ntid.y;", o = out(reg32) out, options(pure, nomem, nostack)) };
    out
}

/// How a lane of the `(B, L, D)` forward reads its 4 channels of a staged row.
pub trait LaneStaged: Staged {
    /// The 4 elements at `addr` (8 bytes for 16-bit types, 16 for f32), widened.
    ///
    /// # Safety
    /// `addr` is aligned to that size inside the block's shared memory.
    unsafe fn ld_shared_lane(addr: u32) -> [f32; LANE];
}

macro_rules! lane_staged_16bit {
    ($t:ty) => {
        impl LaneStaged for $t {
            #[inline(always)]
            unsafe fn ld_shared_lane(addr: u32) -> [f32; LANE] {
                // SAFETY: guaranteed by the caller.
                Self::widen4(&unsafe { ld_shared_8b(addr) })
            }
        }
    };
}

lane_staged_16bit!(Bf16);
lane_staged_16bit!(F16);

impl LaneStaged for f32 {
    #[inline(always)]
    unsafe fn ld_shared_lane(addr: u32) -> [f32; LANE] {
        // SAFETY: guaranteed by the caller.
        unsafe { ld_shared_16b(addr) }.map(f32::from_bits)
    }
}

/// Stages input positions `start .. start + rows` of the 128 channels from `d_tile` of one
/// batch (`x_b`, its `(len_in, D)` slab) into the warp's region: row `r` at
/// `region + r · 128 · size_of::<T>()`, zero outside `[0, len_in) × [0, D)`. Vector inputs go
/// through `cp.async` (16 bytes per lane and copy, 512 contiguous bytes per warp-wide copy,
/// nothing held in registers); others element by element. The caller waits
/// ([`cp_async_wait_all`]) and syncs the warp before reading.
///
/// # Safety
/// `x_b` holds `len_in · D` elements; the region holds `rows` rows; all 32 lanes call it.
#[inline(always)]
unsafe fn stage_blh_rows<T: Staged>(
    x_b: *const T,
    region: u32,
    start: i64,
    rows: u32,
    d_tile: u64,
    p: &Conv1dParams,
    lane: u32,
    vector: bool,
) {
    let channels = p.channels as u64;
    let len = p.len_in as i64;
    let tile = BLH_CHANNELS_PER_BLOCK;
    let row_pieces = tile * T::PIECES as u32 / C as u32;
    let row_bytes = tile * core::mem::size_of::<T>() as u32;
    let mut piece = lane;
    while piece < rows * row_pieces {
        let (r, c) = (piece / row_pieces, piece % row_pieces);
        let pos = start + r as i64;
        let d = d_tile + (c as usize * T::PIECE_ELEMS) as u64;
        let dst = region + r * row_bytes + c * 16;
        let inside = pos >= 0 && pos < len;
        if vector {
            // Vector rows: D is a multiple of 8, so a piece is wholly inside or outside [0, D).
            let valid = inside && d < channels;
            let (pos, d) = if valid { (pos as u64, d) } else { (0, 0) };
            // SAFETY: (pos, d) is a valid, 16-byte-aligned piece of x_b (or nothing is read).
            unsafe {
                cp_async_16b(dst, x_b.add((pos * channels + d) as usize) as *const u8, if valid { 16 } else { 0 })
            };
        } else {
            let mut bits = [0u32; C];
            for e in 0..C {
                if e < T::PIECE_ELEMS && inside && d + (e as u64) < channels {
                    // SAFETY: 0 ≤ pos < len_in and the channel < D.
                    bits[e] = unsafe { T::load_bits(x_b.add((pos as u64 * channels + d + e as u64) as usize)) };
                }
            }
            // SAFETY: the region's piece (caller).
            unsafe { st_shared_16b(dst, T::chunk_from_bits(bits)[0]) };
        }
        piece += 32;
    }
}

/// Calls `$body::<…, LIVE>(args…)` with `LIVE` the run-time tap count `1 ..= 8` of a tap chunk
/// as a compile-time constant (uniform): the `(B, L, D)` bodies then hold no per-(row, output)
/// tap checks, and no registers for taps that do not exist.
macro_rules! dispatch_live {
    ($live:expr, $body:ident::<$($t:ty),*>($($arg:expr),*)) => {
        match $live {
            1 => $body::<$($t,)* 1>($($arg),*),
            2 => $body::<$($t,)* 2>($($arg),*),
            3 => $body::<$($t,)* 3>($($arg),*),
            4 => $body::<$($t,)* 4>($($arg),*),
            5 => $body::<$($t,)* 5>($($arg),*),
            6 => $body::<$($t,)* 6>($($arg),*),
            7 => $body::<$($t,)* 7>($($arg),*),
            _ => $body::<$($t,)* 8>($($arg),*),
        }
    };
}

/// `acc[i] += Σ_{k < LIVE} taps[k] · row[i + k]` for a lane's 4 channels and `G` outputs, rows
/// `row[m]` read from shared memory at `addr + m · row_bytes` when their turn comes (one row's
/// registers live next to the accumulators and taps).
///
/// # Safety
/// Rows `0 .. G + LIVE − 1` at `addr` are staged and synced; `addr` is aligned for
/// [`LaneStaged::ld_shared_lane`].
#[inline(always)]
unsafe fn fwd_blh_group<T: LaneStaged, const G: usize, const LIVE: usize>(
    addr: u32,
    row_bytes: u32,
    taps: &[[f32; LANE]; C],
    acc: &mut [[T::Acc; LANE]; G],
) {
    for m in 0..G + LIVE - 1 {
        // SAFETY: caller.
        let xr = unsafe { T::ld_shared_lane(addr + m as u32 * row_bytes) };
        for (i, acc_row) in acc.iter_mut().enumerate() {
            if m >= i && m - i < LIVE {
                for ch in 0..LANE {
                    acc_row[ch] = acc_row[ch].fma(taps[m - i][ch], xr[ch]);
                }
            }
        }
    }
}

/// Weight-gradient counterpart of [`fwd_blh_group`]: `acc[k] += Σ_i dy[i] · x[i + k]` for
/// `k < LIVE` over `G` outputs, plus `acc[8] += Σ_i dy[i]` with `bias`.
///
/// # Safety
/// `dy` rows `0 .. G` at `dy_addr` and `x` rows `0 .. G + LIVE − 1` at `x_addr` are staged
/// and synced; both addresses aligned as in [`fwd_blh_group`].
#[inline(always)]
unsafe fn dw_blh_group<T: LaneStaged, W: Element, const G: usize, const LIVE: usize>(
    dy_addr: u32,
    x_addr: u32,
    row_bytes: u32,
    bias: bool,
    acc: &mut [[W::Acc; LANE]; C + 1],
) {
    let mut gy = [[0.0f32; LANE]; G];
    for (i, gi) in gy.iter_mut().enumerate() {
        // SAFETY: caller.
        *gi = unsafe { T::ld_shared_lane(dy_addr + i as u32 * row_bytes) };
    }
    for m in 0..G + LIVE - 1 {
        // SAFETY: caller.
        let xr = unsafe { T::ld_shared_lane(x_addr + m as u32 * row_bytes) };
        for (i, gi) in gy.iter().enumerate() {
            if m >= i && m - i < LIVE {
                for ch in 0..LANE {
                    acc[m - i][ch] = acc[m - i][ch].fma(gi[ch], xr[ch]);
                }
            }
        }
    }
    if bias {
        for gi in gy.iter() {
            for ch in 0..LANE {
                acc[C][ch] = acc[C][ch].add(W::Acc::from_f32(gi[ch]));
            }
        }
    }
}

/// Forward / input gradient, `(B, L, D)`. Grid: `⌈B · ⌈len_out / P⌉ · ⌈D / 128⌉ / 4⌉` blocks of
/// `(32, 4)` threads with [`fwd_blh_shared_bytes`] of dynamic shared memory. Warp `v` of the
/// launch owns channel tile `v mod ⌈D / 128⌉` (128 channels) of a tile of `P` positions
/// ([`blh_tile_positions`]); lane `l` computes channels `4l .. 4l + 4` of it.
///
/// The warp stages its `P + K − 1` input rows with `cp.async` (every copy in flight at once,
/// no registers held), then each lane walks groups of `G` outputs, reading its channels of the
/// group's `G + K − 1` rows from shared memory. K > 8: each (group, tap chunk) pass stages its
/// own `G + 7` rows. Warps never wait for each other.
///
/// # Safety
/// As [`forward_bhl`], with this launch shape.
#[inline(always)]
pub unsafe fn forward_blh<T: LaneStaged, W: Element, const G: usize>(
    x: *const T,
    w: *const W,
    bias: *const W,
    y: *mut T,
    p: Conv1dParams,
) {
    let elem = core::mem::size_of::<T>() as u32;
    let tile_positions = blh_tile_positions(elem);
    let lane = thread_x();
    let warp = thread_y();
    let channel_tiles = p.channels.div_ceil(BLH_CHANNELS_PER_BLOCK) as u64;
    let position_tiles = p.len_out.div_ceil(tile_positions) as u64;
    let v = block_x() * block_warps() as u64 + warp as u64;
    let (rest, channel_tile) = div_rem(v, channel_tiles);
    let (b, position_tile) = div_rem(rest, position_tiles);
    if b >= p.batch as u64 {
        return; // the whole warp: nothing waits for it
    }
    let channels = p.channels as u64;
    let d_tile = channel_tile * BLH_CHANNELS_PER_BLOCK as u64;
    let d0 = d_tile + (lane as usize * LANE) as u64;
    let active = d0 < channels;
    let flip = p.flags & FLAG_FLIP_TAPS != 0;
    let (vin, vout) = (p.flags & FLAG_INPUT_VECTOR != 0, p.flags & FLAG_OUTPUT_VECTOR != 0);
    let row_bytes = BLH_CHANNELS_PER_BLOCK * elem;
    let region = dynamic_shared_base() + warp * fwd_blh_stage_rows(elem) * row_bytes;
    let lane_addr = region + lane * LANE as u32 * elem;
    // SAFETY: b < B.
    let (x_b, y_b) = unsafe {
        (x.add((b * p.len_in as u64 * channels) as usize), y.add((b * p.len_out as u64 * channels) as usize))
    };
    let j0 = (position_tile * tile_positions as u64) as i64;
    let tap_chunks = p.tap_chunks();
    let single = tap_chunks == 1;
    let mut taps = [[0.0f32; LANE]; C];
    if single {
        // SAFETY: batch b of x; the region is this warp's (launch shape).
        unsafe {
            stage_blh_rows::<T>(x_b, region, j0 - p.pad_left as i64, tile_positions + p.taps - 1, d_tile, &p, lane, vin)
        };
    }
    let mut bias_lane = [0.0f32; LANE];
    if active {
        // Issued while the copies are in flight.
        // SAFETY: channels < D are read, the rest are zero.
        if single {
            taps = unsafe { load_taps_lane(w, d0, channels, p.taps, 0, flip) };
        }
        for (ch, slot) in bias_lane.iter_mut().enumerate() {
            if d0 + (ch as u64) < channels {
                // SAFETY: channel < D.
                *slot = unsafe { load_bias(bias, d0 + ch as u64, &p) };
            }
        }
    }
    if single {
        cp_async_wait_all();
        sync_warp();
    }
    // The group loop stays rolled (an opaque trip count): unrolled, the compiler hoists every
    // group's shared-memory reads and the kernel needs 204 registers instead of ~100.
    for g in 0..opaque(tile_positions / G as u32) as usize {
        let jg = j0 + (g * G) as i64;
        if jg >= p.len_out as i64 {
            break; // warp-uniform
        }
        let mut acc = [bias_lane.map(T::Acc::from_f32); G];
        for tc in 0..tap_chunks {
            let live = (p.taps - tc * C as u32).min(C as u32) as usize;
            let first_row = if single {
                (g * G) as u32
            } else {
                // The previous pass's reads are done before the region is rewritten.
                sync_warp();
                let start = jg - p.pad_left as i64 + (tc as i64) * C as i64;
                // SAFETY: as above.
                unsafe { stage_blh_rows::<T>(x_b, region, start, (G + live - 1) as u32, d_tile, &p, lane, vin) };
                if active {
                    // SAFETY: as above.
                    taps = unsafe { load_taps_lane(w, d0, channels, p.taps, tc, flip) };
                }
                cp_async_wait_all();
                sync_warp();
                0
            };
            if active {
                let addr = lane_addr + first_row * row_bytes;
                // SAFETY: rows first_row .. first_row + G + live − 1 were staged (below
                // P + K − 1, or below G + live − 1 in a per-pass stage) and synced above.
                unsafe { dispatch_live!(live, fwd_blh_group::<T, G>(addr, row_bytes, &taps, &mut acc)) };
            }
        }
        if active {
            for (i, acc_row) in acc.iter_mut().enumerate() {
                let j = jg + i as i64;
                if j < p.len_out as i64 {
                    // SAFETY: j < len_out; d0 < D.
                    unsafe {
                        store_lane(y_b.add((j as u64 * channels) as usize), d0 as i64, channels as i64, vout, *acc_row)
                    };
                }
            }
        }
    }
}

/// Input gradient fused with the weight- and bias-gradient partials, `(B, L, D)`, K ≤ 8.
///
/// `q.conv` holds the input gradient's parameters (as for [`backward_bhl`]). Grid:
/// `⌈D / 128⌉ · parts` one-warp blocks with [`bwd_blh_shared_bytes`] of dynamic shared memory;
/// block `v` is channel tile `v mod ⌈D / 128⌉` of part `v / ⌈D / 128⌉`, and walks the part's
/// slice of the (batch, tile of `P` positions) items. Per item the warp stages the tile's
/// `P + K − 1` rows of `dy` (the input gradient's window, as [`forward_blh`] stages its input)
/// and its `P` rows of `x`; then per group of `G` positions the lane computes its 4 channels of
/// `dx` ([`fwd_blh_group`]) and, from the same rows, `dw[K − 1 − k] += Σ_i x[i] · dy[i − pad' +
/// k]` ([`dw_blh_group`] with `x` in the role of `dy`), and sums the `dy` rows the item owns
/// for the bias. The warp writes its sums as partial row `part`; `weight_grad_reduce` adds the
/// rows in order. One pass over `dy` and `x`.
///
/// # Safety
/// As [`backward_bhl`], with this launch shape and `x` holding `B · len_out · D` elements.
#[inline(always)]
pub unsafe fn backward_blh<T: LaneStaged, W: Element, const G: usize>(
    dy: *const T,
    w: *const W,
    x: *const T,
    dx: *mut T,
    partials: *mut W::Acc,
    q: Conv1dWeightGradParams,
) {
    let p = q.conv;
    let elem = core::mem::size_of::<T>() as u32;
    let tile_positions = blh_tile_positions(elem);
    let lane = thread_x();
    let channel_tiles = p.channels.div_ceil(BLH_CHANNELS_PER_BLOCK) as u64;
    let (part, channel_tile) = div_rem(block_x(), channel_tiles);
    if part >= q.parts as u64 {
        return; // the whole (one-warp) block
    }
    let channels = p.channels as u64;
    let d_tile = channel_tile * BLH_CHANNELS_PER_BLOCK as u64;
    let d0 = d_tile + (lane as usize * LANE) as u64;
    let active = d0 < channels;
    let (vdy, vdx, vx) =
        (p.flags & FLAG_INPUT_VECTOR != 0, p.flags & FLAG_OUTPUT_VECTOR != 0, p.flags & FLAG_X_VECTOR != 0);
    let row_bytes = BLH_CHANNELS_PER_BLOCK * elem;
    let region = dynamic_shared_base();
    let x_region = region + fwd_blh_stage_rows(elem) * row_bytes;
    let lane_off = lane * LANE as u32 * elem;
    let live = p.taps as usize;
    let pad = p.pad_left as i64; // pad' of the input gradient
    let len = p.len_out as i64; // of dx and x
    let tiles = p.len_out.div_ceil(tile_positions) as u64;
    let (begin, end) = part_range(p.batch as u64 * tiles, part, q.parts as u64);
    // x as a (B, len, D) input of the staging helper.
    let x_params = Conv1dParams { len_in: p.len_out, ..p };
    let mut taps = [[0.0f32; LANE]; C];
    if active {
        // SAFETY: channels < D are read, the rest are zero.
        taps = unsafe { load_taps_lane(w, d0, channels, p.taps, 0, true) };
    }
    let mut sums = [[W::Acc::ZERO; LANE]; C + 1]; // [k][channel]; the last row is the bias
    let mut item = begin;
    while item < end {
        let (b, tile) = div_rem(item, tiles);
        let j0 = (tile * tile_positions as u64) as i64;
        // SAFETY: b < B.
        let (dy_b, x_b, dx_b) = unsafe {
            (
                dy.add((b * p.len_in as u64 * channels) as usize),
                x.add((b * p.len_out as u64 * channels) as usize),
                dx.add((b * p.len_out as u64 * channels) as usize),
            )
        };
        // The previous item's reads are done before the regions are rewritten.
        sync_warp();
        // SAFETY: batch b of dy and x; the regions are this block's (launch shape).
        unsafe {
            stage_blh_rows::<T>(dy_b, region, j0 - pad, tile_positions + p.taps - 1, d_tile, &p, lane, vdy);
            stage_blh_rows::<T>(x_b, x_region, j0, tile_positions, d_tile, &x_params, lane, vx);
        }
        cp_async_wait_all();
        sync_warp();
        if active {
            // Rolled, as in `forward_blh` (unrolled, the compiler hoists every group's reads).
            for g in 0..opaque(tile_positions / G as u32) {
                let jg = j0 + (g * G as u32) as i64;
                if jg >= len {
                    break; // warp-uniform
                }
                let dy_addr = region + lane_off + g * G as u32 * row_bytes;
                let x_addr = x_region + lane_off + g * G as u32 * row_bytes;
                let mut acc = [[T::Acc::ZERO; LANE]; G];
                // SAFETY: dy rows g·G .. g·G + G + K − 1 ≤ P + K − 1 and x rows g·G .. g·G + G
                // ≤ P were staged and synced above.
                unsafe {
                    dispatch_live!(live, fwd_blh_group::<T, G>(dy_addr, row_bytes, &taps, &mut acc));
                    dispatch_live!(live, dw_blh_group::<T, W, G>(x_addr, dy_addr, row_bytes, false, &mut sums));
                }
                for (i, acc_row) in acc.iter().enumerate() {
                    let j = jg + i as i64;
                    if j < len {
                        // SAFETY: j < len; d0 < D.
                        unsafe {
                            store_lane(
                                dx_b.add((j as u64 * channels) as usize),
                                d0 as i64,
                                channels as i64,
                                vdx,
                                *acc_row,
                            )
                        };
                    }
                }
            }
            // The bias sums the dy positions j0 .. j0 + P (staged rows pad' ..), and on a row's
            // last tile every staged row after them too: dy may be up to K − 1 longer than dx.
            let rows = if tile + 1 == tiles { tile_positions + p.taps - 1 - p.pad_left } else { tile_positions };
            for r in 0..opaque(rows) {
                // SAFETY: staged row pad' + r < P + K − 1, synced above.
                let v = unsafe { T::ld_shared_lane(region + lane_off + (p.pad_left + r) * row_bytes) };
                for ch in 0..LANE {
                    sums[C][ch] = sums[C][ch].add(W::Acc::from_f32(v[ch]));
                }
            }
        }
        item += 1;
    }
    unroll!(ch in [0 1 2 3] {
        let d = d0 + ch as u64;
        if d < channels {
            unroll!(kk in [0 1 2 3 4 5 6 7] {
                if kk < live {
                    // SAFETY: slot K − 1 − kk < tap_slots − 1; inside the partials buffer (caller).
                    unsafe { *partials.add(partial_index(part, d, (live - 1 - kk) as u64, &q)) = sums[kk][ch] };
                }
            });
            // SAFETY: as above; the last slot is the bias.
            unsafe { *partials.add(partial_index(part, d, q.tap_slots as u64 - 1, &q)) = sums[C][ch] };
        }
    });
}

/// `backward_blh` writes a lane's channels and taps with `unroll!` over 4 and 8 indices.
const _: () = assert!(LANE == 4 && C == 8);

/// The slice of `total` work items that part `part` of `parts` owns.
#[inline(always)]
fn part_range(total: u64, part: u64, parts: u64) -> (u64, u64) {
    (total * part / parts, total * (part + 1) / parts)
}

/// Index of the partial sum for (partial row, channel, slot).
#[inline(always)]
fn partial_index(row: u64, d: u64, slot: u64, q: &Conv1dWeightGradParams) -> usize {
    ((row * q.conv.channels as u64 + d) * q.tap_slots as u64 + slot) as usize
}

/// Weight and bias gradient partials, `(B, D, L)`. Grid: `(D · parts, tap_chunks)` blocks of
/// 128 threads; block (d, part) reduces its slice of the `(batch, run of 32 outputs)` items.
///
/// # Safety
/// `x` holds `B·D·len_in`, `dy` `B·D·len_out` elements; `partials` holds
/// `parts · DW_WARPS · D · tap_slots` accumulators.
#[inline(always)]
pub unsafe fn weight_grad_bhl<T: Element, W: Element>(
    x: *const T,
    dy: *const T,
    partials: *mut W::Acc,
    q: Conv1dWeightGradParams,
) {
    // SAFETY: forwarded.
    unsafe { dispatch_shift!(input_shift(&q.conv), weight_grad_bhl_shifted::<T, W>(x, dy, partials, q)) }
}

/// [`weight_grad_bhl`] for input shift `S`.
///
/// # Safety
/// As [`weight_grad_bhl`].
#[inline(always)]
unsafe fn weight_grad_bhl_shifted<T: Element, W: Element, const S: usize>(
    x: *const T,
    dy: *const T,
    partials: *mut W::Acc,
    q: Conv1dWeightGradParams,
) {
    let p = q.conv;
    let parts = q.parts as u64;
    let (d, part) = div_rem(block_x(), parts);
    let tap_chunk = block_y();
    if d >= p.channels as u64 {
        return; // whole block: no shuffle is left waiting
    }
    let runs_per_row = p.len_out.div_ceil(RUN as u32) as u64;
    let live_taps = (p.taps - tap_chunk * C as u32).min(C as u32) as usize;
    let (begin, end) = part_range(p.batch as u64 * runs_per_row, part, parts);
    let mut acc = [W::Acc::ZERO; C];
    let mut acc_bias = W::Acc::ZERO;
    let mut item = begin + thread_x() as u64;
    while item < end {
        let (b, run) = div_rem(item, runs_per_row);
        let row = b * p.channels as u64 + d;
        let first = (run * RUN as u64) as i64;
        // SAFETY: row < B·D; loads stay in their rows.
        let (dy_row, x_row) =
            unsafe { (dy.add((row * p.len_out as u64) as usize), x.add((row * p.len_in as u64) as usize)) };
        let mut g = [0.0f32; RUN];
        for r in 0..RUN_CHUNKS {
            // SAFETY: as above.
            let chunk = unsafe {
                load_chunk(dy_row, first + (r * C) as i64, p.len_out as i64, p.flags & FLAG_OUTPUT_VECTOR != 0)
            };
            for e in 0..C {
                g[r * C + e] = chunk[e];
            }
        }
        let start = first - p.pad_left as i64 + (tap_chunk as i64) * C as i64;
        // SAFETY: as above.
        let win = unsafe { load_run_window::<T, S>(x_row, start, p.len_in as i64, p.flags & FLAG_INPUT_VECTOR != 0) };
        for (kk, a) in acc.iter_mut().enumerate() {
            // Uniform branch: taps past K are not computed (their partials stay zero).
            if kk < live_taps {
                for (o, &go) in g.iter().enumerate() {
                    *a = a.fma(go, win[o + kk]);
                }
            }
        }
        if tap_chunk == 0 {
            for &go in g.iter() {
                acc_bias = acc_bias.add(W::Acc::from_f32(go));
            }
        }
        item += BHL_THREADS as u64;
    }
    warp_sum(&mut acc, &mut acc_bias);
    if thread_x() % 32 == 0 {
        let warp_part = part * DW_WARPS as u64 + (thread_x() / 32) as u64;
        for (kk, &a) in acc.iter().enumerate() {
            let slot = (tap_chunk as usize * C + kk) as u64;
            // SAFETY: slot < tap_slots − 1; indices within the partials buffer (caller).
            unsafe { *partials.add(partial_index(warp_part, d, slot, &q)) = a };
        }
        if tap_chunk == 0 {
            // SAFETY: as above; the last slot is the bias.
            unsafe { *partials.add(partial_index(warp_part, d, q.tap_slots as u64 - 1, &q)) = acc_bias };
        }
    }
}

/// Weight and bias gradient partials, `(B, L, D)`. Grid: `(⌈D / 128⌉ · parts, tap_chunks)`
/// blocks of `(32, DW_BLH_WARPS)` threads with [`dw_blh_shared_bytes`] of dynamic shared
/// memory. Items are (batch, tile of `P` positions) ([`blh_tile_positions`]); block
/// (channel tile, part) owns a slice of them and its warps take them in turn. A warp stages an
/// item's `P` rows of `dy` and `P + live − 1` rows of `x` (its 128 channels) with `cp.async`,
/// then each lane accumulates its 4 channels × (8 taps + bias) over the item in groups of `G`
/// outputs, reading rows from shared memory. At the end the warps' sums are added in warp
/// order in shared memory into one partial row per block.
///
/// # Safety
/// As [`weight_grad_bhl`], with `partials` holding `parts · D · tap_slots` accumulators and
/// this launch shape.
#[inline(always)]
pub unsafe fn weight_grad_blh<T: LaneStaged, W: Element, const G: usize>(
    x: *const T,
    dy: *const T,
    partials: *mut W::Acc,
    q: Conv1dWeightGradParams,
) {
    let p = q.conv;
    let elem = core::mem::size_of::<T>() as u32;
    let tile_positions = blh_tile_positions(elem);
    let parts = q.parts as u64;
    let (channel_tile, part) = div_rem(block_x(), parts);
    let tap_chunk = block_y();
    let lane = thread_x();
    let warp = thread_y();
    let channels = p.channels as u64;
    let d_tile = channel_tile * BLH_CHANNELS_PER_BLOCK as u64;
    let d0 = d_tile + (lane as usize * LANE) as u64;
    // No early return: every thread reaches the barriers of the combine below.
    let active = d0 < channels;
    let (vx, vdy) = (p.flags & FLAG_INPUT_VECTOR != 0, p.flags & FLAG_OUTPUT_VECTOR != 0);
    let live = (p.taps - tap_chunk * C as u32).min(C as u32) as usize;
    let row_bytes = BLH_CHANNELS_PER_BLOCK * elem;
    let region = dynamic_shared_base() + warp * dw_blh_stage_rows(elem) * row_bytes;
    // dy rows first, then x rows.
    let x_region = region + tile_positions * row_bytes;
    let lane_off = lane * LANE as u32 * elem;
    let tiles = p.len_out.div_ceil(tile_positions) as u64;
    let (begin, end) = part_range(p.batch as u64 * tiles, part, parts);
    // dy as a (B, len_out, D) input of the staging helper.
    let dy_params = Conv1dParams { len_in: p.len_out, ..p };
    let mut acc = [[W::Acc::ZERO; LANE]; C + 1]; // [tap][channel]; the last row is the bias
    let mut item = begin + warp as u64;
    while item < end {
        let (b, tile) = div_rem(item, tiles);
        let j0 = (tile * tile_positions as u64) as i64;
        // SAFETY: b < B.
        let (x_b, dy_b) = unsafe {
            (x.add((b * p.len_in as u64 * channels) as usize), dy.add((b * p.len_out as u64 * channels) as usize))
        };
        // The previous item's reads are done before the region is rewritten.
        sync_warp();
        let start = j0 - p.pad_left as i64 + (tap_chunk as i64) * C as i64;
        // SAFETY: batch b of dy and x; the regions are this warp's (launch shape). Rows of dy
        // at len_out or beyond are staged as zeros, so they add nothing.
        unsafe {
            stage_blh_rows::<T>(dy_b, region, j0, tile_positions, d_tile, &dy_params, lane, vdy);
            stage_blh_rows::<T>(x_b, x_region, start, tile_positions + live as u32 - 1, d_tile, &p, lane, vx);
        }
        cp_async_wait_all();
        sync_warp();
        if active {
            for g in 0..tile_positions / G as u32 {
                let dy_addr = region + g * G as u32 * row_bytes + lane_off;
                let x_addr = x_region + g * G as u32 * row_bytes + lane_off;
                // SAFETY: dy rows g·G .. g·G + G ≤ P and x rows up to g·G + G + live − 1 ≤
                // P + live − 1 were staged and synced above.
                unsafe {
                    dispatch_live!(live, dw_blh_group::<T, W, G>(dy_addr, x_addr, row_bytes, tap_chunk == 0, &mut acc))
                };
            }
        }
        item += DW_BLH_WARPS as u64;
    }
    // Every warp is done with its staging area before warp 0's is reused for the combine.
    core::arch::nvptx::_syncthreads();
    // Combine the warps in order: warp 0 writes, each next warp adds, one barrier per warp.
    // SAFETY: the launch provides (far more than) 32 lanes × (C + 1) · 4 sums of shared
    // memory; each lane touches only its own slots, and the barriers order the warps.
    unsafe {
        let staged =
            core::intrinsics::gpu::gpu_launch_sized_workgroup_mem::<W::Acc>().add(lane as usize * (C + 1) * LANE);
        for w in 0..DW_BLH_WARPS {
            if warp == w {
                for (slot, row) in acc.iter().enumerate() {
                    for (ch, &value) in row.iter().enumerate() {
                        let cell = staged.add(slot * LANE + ch);
                        *cell = if w == 0 { value } else { (*cell).add(value) };
                    }
                }
            }
            core::arch::nvptx::_syncthreads();
        }
        if warp == 0 && active {
            for ch in 0..LANE {
                let d = d0 + ch as u64;
                if d >= channels {
                    break;
                }
                for kk in 0..C {
                    let sum = *staged.add(kk * LANE + ch);
                    *partials.add(partial_index(part, d, (tap_chunk as usize * C + kk) as u64, &q)) = sum;
                }
                if tap_chunk == 0 {
                    let sum = *staged.add(C * LANE + ch);
                    *partials.add(partial_index(part, d, q.tap_slots as u64 - 1, &q)) = sum;
                }
            }
        }
    }
}

/// Sums the partials of every (channel, tap) and (channel, bias) in a fixed order and stores
/// them, rounded once, as `dw (D, K)` and `dbias (D)`. Grid: `⌈D · tap_slots / 32⌉` blocks of
/// `(32, 8)` threads with [`DW_REDUCE_SHARED_BYTES`] of dynamic shared memory: thread `(c, g)`
/// adds rows `g, g + 8, …` of column `c` (loads coalesced across `c`), then thread `(c, 0)` adds
/// the 8 group sums in group order.
///
/// # Safety
/// `partials` as written by a weight-gradient kernel with the same `q`; `dw` holds `D·K`
/// elements and, with `FLAG_HAS_BIAS`, `dbias` holds `D`; the launch has this shape.
#[inline(always)]
pub unsafe fn weight_grad_reduce<W: Element>(
    partials: *const W::Acc,
    dw: *mut W,
    dbias: *mut W,
    q: Conv1dWeightGradParams,
) {
    let p = q.conv;
    let (column, group) = (thread_x(), thread_y());
    let index = block_x() * DW_REDUCE_COLUMNS as u64 + column as u64;
    let slots = q.tap_slots as u64;
    let (d, slot) = div_rem(index, slots);
    let is_bias = slot == slots - 1;
    // Columns of taps past K and of an absent bias hold nothing (never written): skipped.
    let wanted =
        index < p.channels as u64 * slots && if is_bias { p.flags & FLAG_HAS_BIAS != 0 } else { slot < p.taps as u64 };
    let mut sum = W::Acc::ZERO;
    if wanted {
        let mut row = group as u64;
        while row < q.partial_rows as u64 {
            // SAFETY: inside the partials buffer (caller).
            sum = sum.add(unsafe { *partials.add(partial_index(row, d, slot, &q)) });
            row += DW_REDUCE_ROW_GROUPS as u64;
        }
    }
    // SAFETY: the launch provides one slot per thread; each thread writes its own, and the
    // barrier orders the writes before thread (c, 0) reads its column's.
    unsafe {
        let cells = core::intrinsics::gpu::gpu_launch_sized_workgroup_mem::<W::Acc>();
        *cells.add((group * DW_REDUCE_COLUMNS + column) as usize) = sum;
        core::arch::nvptx::_syncthreads();
        if group != 0 || !wanted {
            return;
        }
        for g in 1..DW_REDUCE_ROW_GROUPS {
            sum = sum.add(*cells.add((g * DW_REDUCE_COLUMNS + column) as usize));
        }
    }
    // SAFETY: d < D, slot < K (caller's buffer sizes).
    unsafe {
        if is_bias {
            W::store(dbias.add(d as usize), sum);
        } else {
            W::store(dw.add((d * p.taps as u64 + slot) as usize), sum);
        }
    }
}
